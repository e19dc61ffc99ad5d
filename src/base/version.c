/* ss_version(): the version the library was built as (streamsy/version.h). */
#include "streamsy/version.h"

const char *ss_version(void) { return STREAMSY_VERSION; }
