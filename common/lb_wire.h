/* lb_wire.h - the codec between the planes: protobuf-c messages from
 * proto/lb.proto, packed to bytes and unpacked with limits and checks.
 *
 * protobuf-c's unpack applies no size limit and says nothing about why it
 * failed (it returns NULL); every unpack here bounds the input first and checks
 * what the schema cannot say (a slot table as long as the preset says, owners
 * that are listed replicas).
 */
#ifndef LB_WIRE_H
#define LB_WIRE_H

#include "lb.pb-c.h"
#include "lb_key.h"
#include "lb_preset.h"
#include "lb_ring.h"

#include <stddef.h>

/* Where the control plane listens unless told otherwise (LB_CTL_URL,
 * LB_PUB_URL): requests to the control server (REQ/REP) and ring snapshots
 * (PUB/SUB). */
#define LB_DEFAULT_CTL_URL "tcp://127.0.0.1:5101"
#define LB_DEFAULT_PUB_URL "tcp://127.0.0.1:5102"

/* The largest message either plane accepts: a 2^20-slot table with 5-byte
 * varints plus a few thousand replicas fits. */
#define LB_WIRE_MAX_BYTES (8u << 20)

/* Packs any message.  Returns 0 and *out owned (free()), or LB_ERR_NOMEM,
 * LB_ERR_TOOBIG. */
int lb_wire_pack(const ProtobufCMessage *m, void **out, size_t *len);

/* Unpacks and checks a snapshot.  Returns 0 and *out owned (free with
 * lb__snapshot__free_unpacked(*out, NULL)), LB_ERR_TOOBIG or LB_ERR_DECODE
 * with the reason in err. */
int lb_wire_snapshot_unpack(const void *buf, size_t len, Lb__Snapshot **out,
                            char *err, size_t errlen);

/* Unpacks an admin request; *out freed with
 * lb__admin_request__free_unpacked(). */
int lb_wire_request_unpack(const void *buf, size_t len, Lb__AdminRequest **out);

/* Unpacks an admin reply (and checks its snapshot, if any); *out freed with
 * lb__admin_reply__free_unpacked(). */
int lb_wire_reply_unpack(const void *buf, size_t len, Lb__AdminReply **out,
                         char *err, size_t errlen);

/* Fills a wire Preset from p.  The strings point to static names; borrows
 * nothing else. */
void lb_wire_preset_set(Lb__Preset *w, const struct lb_preset *p);

/* Reads a wire Preset into *out.  Returns 0 or LB_ERR_DECODE. */
int lb_wire_preset_get(const Lb__Preset *w, struct lb_preset *out);

/* Fills a wire Routing from r; keybuf (LB_KEY_NAME_MAX + 16 bytes) holds
 * the key's text. */
void lb_wire_routing_set(Lb__Routing *w, const struct lb_routing *r,
                         char *keybuf, size_t keylen);

/* Reads a snapshot's routing (the defaults when it has none).  Returns 0
 * or LB_ERR_DECODE with the reason in err. */
int lb_wire_routing_get(const Lb__Snapshot *s, struct lb_routing *out,
                        char *err, size_t errlen);

/* Builds the ring a snapshot describes.  Returns 0 and *out owned, or an
 * error from lb_ring_from_table(). */
int lb_wire_snapshot_ring(const Lb__Snapshot *s, struct lb_ring **out);

#endif
