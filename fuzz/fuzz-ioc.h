/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	fuzz-ioc 3h
/* SUMMARY
/*	what the indicator fuzz targets share
/* SYNOPSIS
/*	#include "fuzz-ioc.h"
/*
/*	void	fuzz_ioc_load(data, size)
/* DESCRIPTION
/*	fuzz_ioc_load() reads DATA (NUL-terminated) as an indicator
/*	file and, when it loads, matches the set against a message
/*	with a URL, sender, subject and part, and makes the reason of
/*	what matched. A failure must come with an error.
/*--*/

#ifndef FUZZ_IOC_H
#define FUZZ_IOC_H

#include <stdlib.h>
#include <string.h>

#include "mailcure/mailcure.h"
#include "ioc-private.h"

static inline void fuzz_ioc_load(const char *data, size_t size)
{
	static const char text[] =
		"From: Boss <boss@evil.example>\nSubject: Your invoice\n\n"
		"see http://www.evil.example/login\n";
	struct mc_ioc_set *set = mc_ioc_set_new();
	char *error = NULL;
	struct mc_msg m;
	struct mc_facts *facts;
	const struct mc_part *parts;
	const char *why;
	size_t nparts = 0;

	if (mc_ioc_set_load_data(set, "fuzz", data, size, &error) < 0) {
		FUZZ_ASSERT(error != NULL);
		free(error);
		mc_ioc_set_free(&set);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.data = m.raw = (const unsigned char *)text;
	m.size = m.raw_size = sizeof(text) - 1;
	m.loc.offset = -1;
	facts = mc_facts_init(&m, NULL);
	bool failed = mc_facts_parts(facts, &parts, &nparts, &why) < 0;
	struct mc_ioc_view v;
	struct mc_ioc_hit hit;
	mc_ioc_view_init(&v, set, &m, facts, parts, nparts, failed);
	if (mc_ioc_match(set, &v, &hit)) {
		FUZZ_ASSERT(hit.ioc != NULL && hit.matched != NULL);
		free(mc_ioc_hit_json(set, &hit));
	}
	mc_ioc_view_deinit(&v);
	mc_facts_free(&facts);
	mc_ioc_set_free(&set);
}

#endif
