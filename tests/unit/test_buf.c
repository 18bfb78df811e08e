/* lb_buf: bounded appends never pass the buffer, and say when they cut;
 * and the log line built with it (lb_log_vformat). */
#include "lb_buf.h"
#include "lb_log.h"
#include "lbt.h"

#include <stdarg.h>

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

static size_t log_line(char *line, size_t cap, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = lb_log_vformat(line, cap, LB_WARN, "ev\nent", fmt, ap);
	va_end(ap);
	return n;
}

static void test_log_line_is_one_printable_line(void)
{
	char line[LB_LOG_LINE_MAX], big[4000];
	size_t n;

	n = log_line(line, sizeof(line), "name=%s", "a\nts=forged\r\x1b");
	LBT_EQ(n, strlen(line));
	LBT_CHECK(line[n - 1] == '\n');
	for (size_t i = 0; i + 1 < n; i++)
		LBT_CHECK(line[i] >= 0x20 && line[i] < 0x7f);
	LBT_CHECK(strstr(line, "event=ev\\x0aent ") != NULL);
	LBT_CHECK(strstr(line, "name=a\\x0ats=forged\\x0d\\x1b\n") != NULL);
	/* A message longer than the line is cut, still one line. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = log_line(line, sizeof(line), "%s", big);
	LBT_EQ(n, sizeof(line) - 1);
	LBT_CHECK(line[n - 1] == '\n' && strchr(line, '\n') == line + n - 1);
}

static const struct lbt_case cases[] = {
    {"appends_that_fit_are_whole", test_appends_that_fit_are_whole},
    {"printf_past_the_end_is_cut_not_overrun",
     test_printf_past_the_end_is_cut_not_overrun},
    {"add_copies_what_fits", test_add_copies_what_fits},
    {"one_byte_buffer_holds_the_empty_text",
     test_one_byte_buffer_holds_the_empty_text},
    {"log_line_is_one_printable_line", test_log_line_is_one_printable_line},
};
LBT_MAIN(cases)
