/* Names and messages for ss_rc, generated from SS_RC_MAP. */
#include "streamsy/rc.h"

const char *ss_rc_name(ss_rc rc) {
    switch (rc) {
#define SS_RC_NAME(name, msg)                                                                                     \
    case SS_##name:                                                                                               \
        return "SS_" #name;
        SS_RC_MAP(SS_RC_NAME)
#undef SS_RC_NAME
    }
    return "SS_UNKNOWN";
}

const char *ss_rc_str(ss_rc rc) {
    switch (rc) {
#define SS_RC_STR(name, msg)                                                                                      \
    case SS_##name:                                                                                               \
        return msg;
        SS_RC_MAP(SS_RC_STR)
#undef SS_RC_STR
    }
    return "unknown result code";
}
