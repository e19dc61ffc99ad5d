/* Streamsy's typed layers, over the core (streamsy/streamsy.h): JSON
 * documents, JSON Schema, JSON streams and Durable State. They use jansson's
 * json_t values (<jansson.h>, libjansson). */
#ifndef STREAMSY_TYPED_H
#define STREAMSY_TYPED_H

#include "json.h"
#include "json_doc.h"
#include "json_error.h"
#include "json_schema.h"
#include "state.h"
#include "streamsy.h"

#endif
