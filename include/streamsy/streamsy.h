/* Streamsy: a Durable Streams server and embeddable library.
 *
 * The core umbrella header: the protocol factory over the storage factories
 * (memory, SQLite, Durable Object) and the transport-neutral HTTP handler.
 * It needs nothing but the C library; the typed layers (JSON, JSON Schema,
 * Durable State), which need jansson, are in streamsy/typed.h. */
#ifndef STREAMSY_H
#define STREAMSY_H

#include "alloc.h"
#include "bytes.h"
#include "durable_object.h"
#include "handler.h"
#include "lineage.h"
#include "memory.h"
#include "offset.h"
#include "protocol.h"
#include "rc.h"
#include "sql_host.h"
#include "sqlite.h"
#include "stats.h"
#include "storage.h"
#include <streamsy/version.h> /* generated into the build (and installed beside these) */

#endif
