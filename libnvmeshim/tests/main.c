/* SPDX-License-Identifier: MIT */
/*
 * main.c - runs every TEST() of tests/test_*.c in (file, line) order, one line
 * per test, then a summary. Exit status 1 when any check failed.
 *
 *	build/unit            run everything
 *	build/unit prp dma    run tests whose name contains "prp" or "dma"
 */
#include <stdlib.h>
#include <string.h>

#include "unit.h"

struct unit_test *unit_current;
static struct unit_test *tests;

void unit_register(struct unit_test *t)
{
	struct unit_test **p = &tests;

	/* keep the list sorted: the order constructors run in is not specified */
	while (*p && (strcmp((*p)->file, t->file) < 0 ||
		      (!strcmp((*p)->file, t->file) && (*p)->line < t->line)))
		p = &(*p)->next;
	t->next = *p;
	*p = t;
}

static int selected(const struct unit_test *t, int argc, char **argv)
{
	if (argc < 2)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strstr(t->name, argv[i]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned ntests = 0, nfailed = 0;
	unsigned long long nchecks = 0, nbad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (struct unit_test *t = tests; t; t = t->next) {
		if (!selected(t, argc, argv))
			continue;
		unit_current = t;
		t->fn();
		unit_current = NULL;
		ntests++;
		nchecks += t->checks;
		nbad += t->failed;
		if (t->failed) {
			nfailed++;
			printf("FAIL %s (%lu checks, %lu failed)\n", t->name, t->checks, t->failed);
		} else {
			printf("ok   %s (%lu checks)\n", t->name, t->checks);
		}
	}
	printf("%u tests, %llu checks: %s (%u tests, %llu checks failed)\n", ntests, nchecks,
	       nfailed ? "FAILED" : "passed", nfailed, nbad);
	if (!ntests)
		printf("no test matched\n");
	return nfailed || !ntests ? EXIT_FAILURE : EXIT_SUCCESS;
}
