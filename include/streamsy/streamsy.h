/* Streamsy: a Durable Streams server and embeddable library.
 * Umbrella header for embedders. */
#ifndef STREAMSY_H
#define STREAMSY_H

#define STREAMSY_VERSION "0.1.0"

#include "bytes.h"
#include "handler.h"
#include "json.h"
#include "json_error.h"
#include "json_schema.h"
#include "lineage.h"
#include "memory.h"
#include "offset.h"
#include "protocol.h"
#include "rc.h"
#include "sqlite.h"
#include "state.h"
#include "storage.h"

#endif
