/* lb_buf: bounded appends never pass the buffer, and say when they cut. */
#include "lb_buf.h"
#include "lbt.h"

static void test_appends_that_fit_are_whole(void)
{
	char mem[16];
	struct lb_buf b;

	lb_buf_init(&b, mem, sizeof(mem));
	LBT_CHECK(mem[0] == '\0' && b.len == 0);
	lb_buf_str(&b, "ab");
	lb_buf_printf(&b, "%d-%s", 42, "x");
	LBT_CHECK(strcmp(mem, "ab42-x") == 0);
	LBT_EQ(b.len, 6);
	LBT_EQ(lb_buf_room(&b), 9);
	LBT_CHECK(!b.cut);
}

static void test_printf_past_the_end_is_cut_not_overrun(void)
{
	char mem[32];
	struct lb_buf b;

	memset(mem, 'G', sizeof(mem)); /* a guard: nothing past cap moves */
	lb_buf_init(&b, mem, 10);
	lb_buf_printf(&b, "%s", "0123456789abcdef");
	LBT_CHECK(b.cut);
	LBT_EQ(b.len, 9);
	LBT_CHECK(strcmp(mem, "012345678") == 0);
	/* Later appends add nothing and keep the text terminated. */
	lb_buf_printf(&b, "%s", "more");
	lb_buf_str(&b, "more");
	LBT_EQ(b.len, 9);
	LBT_CHECK(mem[9] == '\0');
	for (size_t i = 10; i < sizeof(mem); i++)
		LBT_CHECK(mem[i] == 'G');
}

static void test_add_copies_what_fits(void)
{
	char mem[8];
	struct lb_buf b;

	lb_buf_init(&b, mem, sizeof(mem));
	lb_buf_add(&b, "abcd", 4);
	lb_buf_add(&b, "efghij", 6);
	LBT_CHECK(b.cut);
	LBT_CHECK(strcmp(mem, "abcdefg") == 0);
	LBT_EQ(lb_buf_room(&b), 0);
}

static void test_one_byte_buffer_holds_the_empty_text(void)
{
	char mem[1];
	struct lb_buf b;

	lb_buf_init(&b, mem, 1);
	lb_buf_printf(&b, "x%d", 1);
	LBT_CHECK(b.cut && b.len == 0 && mem[0] == '\0');
}

static const struct lbt_case cases[] = {
    {"appends_that_fit_are_whole", test_appends_that_fit_are_whole},
    {"printf_past_the_end_is_cut_not_overrun",
     test_printf_past_the_end_is_cut_not_overrun},
    {"add_copies_what_fits", test_add_copies_what_fits},
    {"one_byte_buffer_holds_the_empty_text",
     test_one_byte_buffer_holds_the_empty_text},
};
LBT_MAIN(cases)
