/* SPDX-License-Identifier: MIT */
/*
 * unit.h - a tiny unit test framework for libnvmeshim, libc only.
 *
 *	TEST(name)
 *	{
 *		CHECK(x > 0);
 *		CHECK_EQ(f(x), 42);
 *	}
 *
 * TEST() registers the function from a constructor; tests/main.c runs them in
 * (file, line) order. A failed CHECK prints file:line, the expression and, for
 * CHECK_EQ, both values, marks the test failed and carries on. Both macros are
 * expressions that yield 1 when the check passed, so a loop can stop early:
 * if (!CHECK_EQ(a, b)) break;
 */
#ifndef NVMESHIM_TESTS_UNIT_H
#define NVMESHIM_TESTS_UNIT_H

#include <stdio.h>

struct unit_test {
	const char *name;
	const char *file;
	int line;
	void (*fn)(void);
	struct unit_test *next;
	unsigned long checks;
	unsigned long failed;
};

/* defined in tests/main.c */
extern struct unit_test *unit_current;
void unit_register(struct unit_test *t);

/* a failing loop reports this many checks per test, then stays quiet */
#ifndef UNIT_MAX_REPORTS
#define UNIT_MAX_REPORTS 20
#endif

static inline int unit_report(const char *file, int line)
{
	struct unit_test *t = unit_current;

	t->failed++;
	if (t->failed > UNIT_MAX_REPORTS) {
		if (t->failed == UNIT_MAX_REPORTS + 1)
			printf("    %s: further failures not shown\n", t->name);
		return 0;
	}
	printf("    %s:%d: ", file, line);
	return 1;
}

static inline int unit_check(int ok, const char *file, int line, const char *expr)
{
	unit_current->checks++;
	if (ok)
		return 1;
	if (unit_report(file, line))
		printf("CHECK(%s) failed\n", expr);
	return 0;
}

/* decimal and hex; negative as well when the top bit is set (errno values) */
static inline void unit_value(unsigned long long v)
{
	printf("%llu (0x%llx", v, v);
	if (v >> 63)
		printf(", %lld", (long long)v);
	printf(")");
}

static inline int unit_check_eq(unsigned long long a, unsigned long long b, const char *file,
				int line, const char *ea, const char *eb)
{
	unit_current->checks++;
	if (a == b)
		return 1;
	if (unit_report(file, line)) {
		printf("CHECK_EQ(%s, %s) failed: ", ea, eb);
		unit_value(a);
		printf(" != ");
		unit_value(b);
		printf("\n");
	}
	return 0;
}

#define CHECK(cond) unit_check(!!(cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ(a, b)                                                                    \
	unit_check_eq((unsigned long long)(a), (unsigned long long)(b), __FILE__, __LINE__, \
		      #a, #b)

/* extra context for the failure just reported (shown only while reports are) */
#define UNIT_NOTE(...)                                                   \
	do {                                                             \
		if (unit_current->failed <= UNIT_MAX_REPORTS) {          \
			printf("      note: ");                          \
			printf(__VA_ARGS__);                             \
			printf("\n");                                    \
		}                                                        \
	} while (0)

#define TEST(tname)                                                                       \
	static void unit_fn_##tname(void);                                                \
	static struct unit_test unit_t_##tname = {                                        \
		.name = #tname, .file = __FILE__, .line = __LINE__, .fn = unit_fn_##tname \
	};                                                                                \
	__attribute__((constructor)) static void unit_reg_##tname(void)                   \
	{                                                                                 \
		unit_register(&unit_t_##tname);                                           \
	}                                                                                 \
	static void unit_fn_##tname(void)

#endif
