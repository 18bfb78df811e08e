#include "lb_wire.h"

#include "lb_err.h"
#include "lb_idset.h"
#include "lb_name.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lb_wire_pack(const ProtobufCMessage *m, void **out, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf;

	if (n > LB_WIRE_MAX_BYTES)
		return LB_ERR_TOOBIG;
	/* malloc(0) may return NULL; an empty message is still valid. */
	if (!(buf = malloc(n ? n : 1)))
		return LB_ERR_NOMEM;
	protobuf_c_message_pack(m, buf);
	*out = buf;
	*len = n;
	return 0;
}

void lb_wire_preset_set(Lb__Preset *w, const struct lb_preset *p)
{
	/* protobuf-c wants char *, and never writes through it on pack. */
	w->name = (char *)p->name;
	w->slots = p->slots;
	w->vnodes = p->vnodes;
	w->hash = (char *)lb_hash_name(p->hash);
	w->placement = (char *)lb_preset_placement_name(p->placement);
}

int lb_wire_preset_get(const Lb__Preset *w, struct lb_preset *out)
{
	char err[128];
	struct lb_preset p;

	memset(&p, 0, sizeof(p));
	if (strlen(w->name) >= sizeof(p.name) ||
	    lb_hash_parse(w->hash, &p.hash) != 0 ||
	    lb_preset_placement_parse(w->placement, &p.placement) != 0)
		return LB_ERR_DECODE;
	strcpy(p.name, w->name);
	p.slots = w->slots;
	p.vnodes = w->vnodes;
	if (lb_preset_check(&p, err, sizeof(err)) != 0)
		return LB_ERR_DECODE;
	*out = p;
	return 0;
}

void lb_wire_routing_set(Lb__Routing *w, const struct lb_routing *r,
                         char *keybuf, size_t keylen)
{
	lb_key_format(&r->key, keybuf, keylen);
	w->key = keybuf;
	w->has_balance_factor = w->has_trust_forwarded = w->has_set_cookie =
	    w->has_slow_start_ms = true;
	w->slow_start_ms = r->slow_start_ms;
	w->balance_factor = r->balance_factor;
	w->trust_forwarded = r->trust_forwarded;
	w->set_cookie = r->set_cookie;
}

int lb_wire_routing_get(const Lb__Snapshot *s, struct lb_routing *out,
                        char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->key.kind = LB_KEY_REQUEST_ID;
	if (!s->routing)
		return 0;
	if (lb_key_parse(s->routing->key, &out->key, err, errlen) != 0)
		return LB_ERR_DECODE;
	out->balance_factor = s->routing->balance_factor;
	out->trust_forwarded = s->routing->trust_forwarded;
	out->set_cookie = s->routing->set_cookie;
	out->slow_start_ms = s->routing->slow_start_ms;
	return lb_key_routing_check(out, err, errlen) ? LB_ERR_DECODE : 0;
}

static int snapshot_check(const Lb__Snapshot *s, char *err, size_t errlen)
{
	struct lb_routing routing;
	struct lb_idset ids;
	struct lb_preset p;

	if (lb_wire_preset_get(s->preset, &p) != 0) {
		snprintf(err, errlen, "bad preset");
		return LB_ERR_DECODE;
	}
	if (lb_wire_routing_get(s, &routing, err, errlen) != 0)
		return LB_ERR_DECODE;
	if (s->n_owner != p.slots) {
		snprintf(err, errlen,
		         "slot table has %zu entries, preset says %u",
		         s->n_owner, p.slots);
		return LB_ERR_DECODE;
	}
	/* Every check below is O(replicas + slots): a set of the ids. */
	lb_idset_init(&ids);
	for (size_t i = 0; i < s->n_replicas; i++) {
		const Lb__Replica *r = s->replicas[i];
		if (!lb_name_valid(r->name) || r->server_id == 0 ||
		    r->port == 0 || r->port > 65535 || r->host[0] == '\0' ||
		    strlen(r->host) > LB_HOST_MAX) {
			snprintf(err, errlen, "bad replica entry %zu", i);
			goto bad;
		}
		if (lb_idset_add(&ids, r->server_id) != 1) {
			snprintf(err, errlen, "server id %u listed twice",
			         r->server_id);
			goto bad;
		}
	}
	/* Every owner must be a listed replica, or routing would pick a
	 * server with no address. */
	for (size_t k = 0; k < s->n_owner; k++) {
		if (s->owner[k] && !lb_idset_has(&ids, s->owner[k])) {
			snprintf(err, errlen,
			         "slot %zu owned by unknown server %u", k,
			         s->owner[k]);
			goto bad;
		}
	}
	lb_idset_fini(&ids);
	return 0;
bad:
	lb_idset_fini(&ids);
	return LB_ERR_DECODE;
}

int lb_wire_snapshot_unpack(const void *buf, size_t len, Lb__Snapshot **out,
                            char *err, size_t errlen)
{
	Lb__Snapshot *s;
	int rv;

	if (len > LB_WIRE_MAX_BYTES) {
		snprintf(err, errlen, "%zu bytes is over the limit", len);
		return LB_ERR_TOOBIG;
	}
	s = lb__snapshot__unpack(NULL, len, buf);
	if (!s) {
		snprintf(err, errlen, "not a snapshot message");
		return LB_ERR_DECODE;
	}
	if ((rv = snapshot_check(s, err, errlen)) != 0) {
		lb__snapshot__free_unpacked(s, NULL);
		return rv;
	}
	*out = s;
	return 0;
}

int lb_wire_request_unpack(const void *buf, size_t len, Lb__AdminRequest **out)
{
	if (len > LB_WIRE_MAX_BYTES)
		return LB_ERR_TOOBIG;
	*out = lb__admin_request__unpack(NULL, len, buf);
	return *out ? 0 : LB_ERR_DECODE;
}

int lb_wire_reply_unpack(const void *buf, size_t len, Lb__AdminReply **out,
                         char *err, size_t errlen)
{
	Lb__AdminReply *r;
	int rv;

	if (len > LB_WIRE_MAX_BYTES) {
		snprintf(err, errlen, "%zu bytes is over the limit", len);
		return LB_ERR_TOOBIG;
	}
	if (!(r = lb__admin_reply__unpack(NULL, len, buf))) {
		snprintf(err, errlen, "not an admin reply");
		return LB_ERR_DECODE;
	}
	if (r->snapshot && (rv = snapshot_check(r->snapshot, err, errlen))) {
		lb__admin_reply__free_unpacked(r, NULL);
		return rv;
	}
	*out = r;
	return 0;
}

int lb_wire_snapshot_ring(const Lb__Snapshot *s, struct lb_ring **out)
{
	struct lb_preset p;
	int rv = lb_wire_preset_get(s->preset, &p);
	if (rv != 0)
		return rv;
	return lb_ring_from_table(&p, s->owner, s->n_owner, out);
}
