/* LB_KEY's grammar (lb_key), the routing checks, the key's hash, and the
 * HTTP token grammar the names are held to (lb_http_token). */
#include "lb_err.h"
#include "lb_http_token.h"
#include "lb_key.h"
#include "lbt.h"

static void parse_ok(const char *s, enum lb_key_kind kind, const char *name)
{
	struct lb_key k;
	char err[256], back[128];
	LBT_EQ(lb_key_parse(s, &k, err, sizeof(err)), 0);
	LBT_EQ(k.kind, kind);
	LBT_CHECK(strcmp(k.name, name) == 0);
	lb_key_format(&k, back, sizeof(back));
	LBT_CHECK(strcmp(back, s) == 0); /* the text form round-trips */
}

static void every_kind_parses_and_formats_back(void)
{
	parse_ok("request-id", LB_KEY_REQUEST_ID, "");
	parse_ok("ip", LB_KEY_IP, "");
	parse_ok("path", LB_KEY_PATH, "");
	parse_ok("header:X-User", LB_KEY_HEADER, "X-User");
	parse_ok("cookie:sid", LB_KEY_COOKIE, "sid");
	parse_ok("query:user.id", LB_KEY_QUERY, "user.id");
}

static void parse_refused(const char *s, const char *says)
{
	struct lb_key k = {.kind = LB_KEY_IP};
	char err[256] = "";
	LBT_EQ(lb_key_parse(s, &k, err, sizeof(err)), LB_ERR_INVAL);
	if (!strstr(err, says)) {
		fprintf(stderr, "'%s': '%s' lacks '%s'\n", s, err, says);
		LBT_CHECK(0);
	}
}

static void bad_keys_are_refused_with_the_reason(void)
{
	char long_name[LB_KEY_NAME_MAX + 16] = "header:";
	memset(long_name + 7, 'a', LB_KEY_NAME_MAX + 1);
	long_name[7 + LB_KEY_NAME_MAX + 1] = '\0';
	parse_refused("bogus", "must be request-id, ip, path");
	parse_refused("", "must be request-id");
	parse_refused("IP", "must be request-id"); /* case matters */
	parse_refused("ip:", "must be request-id");
	parse_refused("header:", "needs a name after 'header:'");
	parse_refused("header:X User", "needs a name"); /* not a token */
	parse_refused("cookie:a;b", "needs a name");    /* not a token */
	parse_refused("query:a&b", "needs a name");     /* a separator */
	parse_refused("query:a=b", "needs a name");
	parse_refused("query:caf\xc3\xa9", "needs a name"); /* not ASCII */
	parse_refused(long_name, "needs a name");
	long_name[7 + LB_KEY_NAME_MAX] = '\0'; /* the longest allowed */
	parse_ok(long_name, LB_KEY_HEADER, long_name + 7);
}

static void routing_fields_are_checked_together(void)
{
	struct lb_routing r = {.key = {.kind = LB_KEY_REQUEST_ID}};
	char err[256];
	LBT_EQ(lb_key_routing_check(&r, err, sizeof(err)), 0);
	r.balance_factor = 0.5; /* under 1 would refuse every replica */
	LBT_EQ(lb_key_routing_check(&r, err, sizeof(err)), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "LB_BALANCE_FACTOR=0.5") != NULL);
	r.balance_factor = LB_BALANCE_FACTOR_MAX;
	LBT_EQ(lb_key_routing_check(&r, err, sizeof(err)), 0);
	r.set_cookie = true;
	LBT_EQ(lb_key_routing_check(&r, err, sizeof(err)), LB_ERR_INVAL);
	LBT_CHECK(strstr(err, "LB_SET_COOKIE=1 needs LB_KEY=cookie") != NULL);
	r.key.kind = LB_KEY_COOKIE;
	LBT_EQ(lb_key_routing_check(&r, err, sizeof(err)), 0);
}

static void a_key_hashes_into_the_presets_key_space(void)
{
	struct lb_preset quad, mix;
	LBT_EQ(lb_preset_lookup("assignment", &quad), 0);
	LBT_EQ(lb_preset_lookup("mix", &mix), 0);
	for (int i = 0; i < 1000; i++) {
		char key[16];
		int n = snprintf(key, sizeof(key), "user%d", i);
		uint64_t h = lb_key_hash(&quad, key, (size_t)n);
		/* The assignment's H is made for 6-digit request ids. */
		LBT_CHECK(h >= 100000 && h <= 999999);
		LBT_EQ(h, lb_key_hash(&quad, key, (size_t)n)); /* stable */
	}
	/* mix takes all 64 bits: not folded into six digits. */
	LBT_CHECK(lb_key_hash(&mix, "user1", 5) > 999999 ||
	          lb_key_hash(&mix, "user2", 5) > 999999);
	for (int i = 0; i < 1000; i++) {
		uint64_t id = lb_key_random_id();
		LBT_CHECK(id >= 100000 && id <= 999999);
	}
}

static void token_grammar(void)
{
	const char *tok = "!#$%&'*+-.^_`|~09azAZ";
	for (const char *p = tok; *p; p++)
		LBT_CHECK(lb_http_token_char((unsigned char)*p));
	const char *not_tok = " \t\"(),/:;<=>?@[\\]{}\x7f\x01\x80";
	for (const char *p = not_tok; *p; p++)
		LBT_CHECK(!lb_http_token_char((unsigned char)*p));
	LBT_CHECK(!lb_http_token_char(0));
	/* Lists: commas, optional whitespace, any case. */
	const char *v = "TE, Keep-Alive ,\tupgrade";
	LBT_CHECK(lb_http_token_listed(v, strlen(v), "keep-alive", 10));
	LBT_CHECK(lb_http_token_listed(v, strlen(v), "te", 2));
	LBT_CHECK(lb_http_token_listed(v, strlen(v), "Upgrade", 7));
	LBT_CHECK(!lb_http_token_listed(v, strlen(v), "keep", 4));
	LBT_CHECK(!lb_http_token_listed("", 0, "te", 2));
	LBT_CHECK(!lb_http_token_listed(",,", 2, "te", 2));
	/* Only len bytes are read: a name past them is not in the list. */
	LBT_CHECK(!lb_http_token_listed("close, te", 5, "te", 2));
}

static const struct lbt_case cases[] = {
    {"every_kind_parses_and_formats_back", every_kind_parses_and_formats_back},
    {"bad_keys_are_refused_with_the_reason",
     bad_keys_are_refused_with_the_reason},
    {"routing_fields_are_checked_together",
     routing_fields_are_checked_together},
    {"a_key_hashes_into_the_presets_key_space",
     a_key_hashes_into_the_presets_key_space},
    {"token_grammar", token_grammar},
};
LBT_MAIN(cases)
