/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	date 3
/* SUMMARY
/*	the one date parser: Date header fields and DATE arguments
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	bool	mc_date_parse(text, &t, &has_time)
/*	void	mc_date_format(t, buf, size)
/*
/*	#include "internal.h"
/*
/*	bool	mc_date_parse_header(text, &t)
/*	bool	mc_date_from_civil(year, month, day, hour, min, sec, &t)
/* DESCRIPTION
/*	mc_date_parse() reads a DATE given on the command line (since:,
/*	before:, quarantine purge --before): YYYY-MM-DD, or
/*	YYYY-MM-DDTHH:MM:SS with a T or a space, and an optional final
/*	Z, in UTC. A day the month does not have (2026-02-30) is an
/*	error, not a day of the next month.
/*
/*	mc_date_parse_header() reads the value of a Date field as real
/*	mail writes it. RFC 5322 date-time with its obsolete forms:
/*	comments and white space anywhere, no day name, no seconds, two-
/*	and three-digit years (section 4.3: 00-49 is 2000-2049, 50-99
/*	and any three-digit year add 1900; so does a four-digit field
/*	below 1000, "0102", which mailers that print the year minus 1900
/*	write), zone names (UT, GMT, the US zones; military and unknown
/*	names are -0000, as section 4.3 says), a numeric zone with a
/*	comment after it ("+0000 (GMT)"), and none. Also the forms broken
/*	mailers write instead: ctime ("Tue May 14 08:20:30 [CEST] 2024"),
/*	the month before the day ("Tue, May 14 2024 08:20:30 -0400"),
/*	and ISO 8601 ("2024-05-14 08:20:30", "2024-05-14T08:20:30+02:00").
/*	Anything after the zone is ignored. Dates before 1970 give a
/*	negative time.
/*
/*	mc_date_format() is the one way a time is shown to people, in
/*	UTC with the zone named: "2026-03-01 14:05:09 UTC".
/*
/*	mc_date_from_civil() converts a proleptic Gregorian UTC date and
/*	time to a time_t, checking every field.
/* DIAGNOSTICS
/*	false for a text that is not a date, or names a day or time that
/*	does not exist.
/* SECURITY
/*	Header values are hostile input: one forward pass, numbers of at
/*	most four digits (so no overflow), comments skipped iteratively.
/*--*/

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <glib.h>

#include "mailcure/mailcure.h"
#include "internal.h"

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

bool mc_date_from_civil(int year, int month, int day, int hour, int min,
			int sec, time_t *t_r)
{
	static const unsigned char mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);

	if (year < 0 || year > 9999 || month < 1 || month > 12 || day < 1 ||
	    day > mdays[month - 1] + (month == 2 && leap) || hour < 0 ||
	    hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
		return false;
	*t_r = (time_t)(days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 +
			hour * 3600 + min * 60 + sec);
	return true;
}

/* ------------------------------------------------------------------ */
/* Pieces                                                             */
/* ------------------------------------------------------------------ */

struct civil {
	int year, month, day, hour, min, sec;
	int zone;		/* minutes east of UTC */
};

static const char *skip_cfws(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s != '(')
			return s;
		/* A comment, possibly nested. */
		unsigned level = 0;
		do {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '(')
				level++;
			else if (*s == ')')
				level--;
			s++;
		} while (*s != '\0' && level > 0);
	}
}

/* A number of MIN to MAX digits at *SP, not followed by another
   digit; -1 when there is none. *DIGITS_R (may be NULL): how many. */
static int read_num(const char **sp, unsigned min_digits, unsigned max_digits,
		    unsigned *digits_r)
{
	const char *s = *sp;
	int v = 0;
	unsigned n = 0;

	while (n < max_digits && *s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		n++;
	}
	if (n < min_digits || (*s >= '0' && *s <= '9'))
		return -1;
	if (digits_r != NULL)
		*digits_r = n;
	*sp = s;
	return v;
}

static size_t word_len(const char *s)
{
	size_t n = 0;

	while (g_ascii_isalpha(s[n]))
		n++;
	return n;
}

/* A month name ("Sep", "September") at *SP: 1-12, or 0. */
static int read_month(const char **sp)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	size_t n = word_len(*sp);

	if (n < 3)
		return 0;
	for (int i = 0; i < 12; i++) {
		if (g_ascii_strncasecmp(*sp, months + 3 * i, 3) == 0) {
			*sp += n;
			return i + 1;
		}
	}
	return 0;
}

/* A year at *SP, RFC 5322 section 4.3 applied. */
static int read_year(const char **sp)
{
	unsigned digits;
	int y = read_num(sp, 2, 4, &digits);

	if (y < 0)
		return -1;
	if (digits == 2)
		return y + (y < 50 ? 2000 : 1900);
	if (y < 1000)
		return y + 1900;	/* "102" and "0102" alike */
	return y;
}

/* HH:MM[:SS], white space and comments allowed around the colons. */
static const char *read_time(const char *s, struct civil *c)
{
	if ((c->hour = read_num(&s, 1, 2, NULL)) < 0)
		return NULL;
	s = skip_cfws(s);
	if (*s++ != ':')
		return NULL;
	s = skip_cfws(s);
	if ((c->min = read_num(&s, 2, 2, NULL)) < 0)
		return NULL;
	const char *after = s;
	s = skip_cfws(s);
	if (*s != ':')
		return after;
	s = skip_cfws(s + 1);
	if ((c->sec = read_num(&s, 2, 2, NULL)) < 0)
		return NULL;
	return s;
}

/* A zone at S (after CFWS): +hhmm, +hh:mm, +hh, Z or a name; none is
   UTC. Returns where it ends, or NULL for a broken numeric zone. */
static const char *read_zone(const char *s, struct civil *c)
{
	static const struct { const char *name; int minutes; } zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
		{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
	};

	c->zone = 0;
	if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, hh, mm = 0;
		unsigned digits;

		s++;
		if ((hh = read_num(&s, 2, 4, &digits)) < 0 || digits == 3)
			return NULL;
		if (digits == 4) {
			mm = hh % 100;
			hh /= 100;
		} else if (*s == ':') {
			s++;
			if ((mm = read_num(&s, 2, 2, NULL)) < 0)
				return NULL;
		}
		if (mm > 59 || g_ascii_isalnum(*s))
			return NULL;
		c->zone = sign * (hh * 60 + mm);
		return s;
	}
	size_t n = word_len(s);
	/* RFC 5322 4.3: other (military) zone names mean -0000. */
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == n && g_ascii_strncasecmp(s, zones[i].name, n) == 0)
			c->zone = zones[i].minutes;
	}
	return s + n;
}

/* ------------------------------------------------------------------ */
/* Forms                                                              */
/* ------------------------------------------------------------------ */

/* YYYY-MM-DD, then the time after "T" or white space, if any. */
static const char *read_iso(const char *s, struct civil *c, bool *has_time_r)
{
	*has_time_r = false;
	if ((c->year = read_num(&s, 4, 4, NULL)) < 0 || *s++ != '-' ||
	    (c->month = read_num(&s, 2, 2, NULL)) < 0 || *s++ != '-' ||
	    (c->day = read_num(&s, 2, 2, NULL)) < 0)
		return NULL;
	if ((*s == 'T' || *s == 't' || *s == ' ') && s[1] >= '0' && s[1] <= '9') {
		if ((s = read_time(s + 1, c)) == NULL)
			return NULL;
		*has_time_r = true;
	}
	return s;
}

/* day month year [time [zone]] (after the day name) */
static bool rfc5322_form(const char *s, struct civil *c)
{
	if ((c->day = read_num(&s, 1, 2, NULL)) < 0)
		return false;
	s = skip_cfws(s);
	if (*s == '-' || *s == '/')
		s++;	/* "14-May-2024" */
	if ((c->month = read_month(&s)) == 0)
		return false;
	s = skip_cfws(s);
	if (*s == '-' || *s == '/')
		s++;
	if ((c->year = read_year(&s)) < 0)
		return false;
	s = skip_cfws(s);
	if (*s == '\0')
		return true;	/* a day without its time: midnight */
	if (*s == ',')
		s = skip_cfws(s + 1);
	if ((s = read_time(s, c)) == NULL)
		return false;
	return read_zone(skip_cfws(s), c) != NULL;
}

/* Month first: "May 14 08:20:30 [zone] 2024" (ctime), "May 14 2024
   08:20:30 [zone]". */
static bool month_first_form(const char *s, struct civil *c)
{
	if ((c->month = read_month(&s)) == 0)
		return false;
	s = skip_cfws(s);
	if ((c->day = read_num(&s, 1, 2, NULL)) < 0)
		return false;
	s = skip_cfws(s);
	if (*s == ',')
		s = skip_cfws(s + 1);
	const char *t = s;
	if (read_num(&t, 1, 2, NULL) >= 0 && *skip_cfws(t) == ':') {
		if ((s = read_time(s, c)) == NULL)
			return false;
		s = skip_cfws(s);
		if (!g_ascii_isdigit(*s)) {
			if ((s = read_zone(s, c)) == NULL)
				return false;
			s = skip_cfws(s);
		}
		return (c->year = read_year(&s)) >= 0;
	}
	if ((c->year = read_year(&s)) < 0)
		return false;
	s = skip_cfws(s);
	if ((s = read_time(s, c)) == NULL)
		return false;
	return read_zone(skip_cfws(s), c) != NULL;
}

/* ISO 8601: YYYY-MM-DD[(T| )HH:MM[:SS][.frac]][zone] */
static bool iso_form(const char *s, struct civil *c)
{
	bool has_time;

	if ((s = read_iso(s, c, &has_time)) == NULL)
		return false;
	if (*s == '.' || *s == ',') {
		for (s++; g_ascii_isdigit(*s); s++)
			;
	}
	return read_zone(skip_cfws(s), c) != NULL;
}

static bool to_time(const struct civil *c, time_t *t_r)
{
	time_t t;

	if (!mc_date_from_civil(c->year, c->month, c->day, c->hour, c->min, c->sec, &t))
		return false;
	*t_r = t - (time_t)c->zone * 60;
	return true;
}

/* Try FORM on S with fresh fields. */
static bool try_form(bool (*form)(const char *, struct civil *), const char *s,
		     time_t *t_r)
{
	struct civil c;

	memset(&c, 0, sizeof(c));
	return form(s, &c) && to_time(&c, t_r);
}

bool mc_date_parse_header(const char *s, time_t *t_r)
{
	const char *start;

	s = skip_cfws(s);
	if (g_ascii_isdigit(s[0]) && g_ascii_isdigit(s[1]) && g_ascii_isdigit(s[2]) &&
	    g_ascii_isdigit(s[3]) && s[4] == '-')
		return try_form(iso_form, s, t_r);
	if (!g_ascii_isalpha(*s))
		return try_form(rfc5322_form, s, t_r);
	/* A day name, or the month of a date without one. */
	start = s;
	s = skip_cfws(s + word_len(s));
	if (*s == ',')
		s = skip_cfws(s + 1);
	if (g_ascii_isdigit(*s) && try_form(rfc5322_form, s, t_r))
		return true;
	return try_form(month_first_form, s, t_r) ||
		try_form(month_first_form, start, t_r);
}

/* Whether S has the shape of PATTERN: 'd' a digit, 'T' one of "Tt ",
   anything else itself. */
static bool has_shape(const char *s, const char *pattern)
{
	for (; *pattern != '\0'; s++, pattern++) {
		if (*pattern == 'd' ? !g_ascii_isdigit(*s) :
		    *pattern == 'T' ? (*s != 'T' && *s != 't' && *s != ' ') :
		    *s != *pattern)
			return false;
	}
	return *s == '\0' || ((*s == 'Z' || *s == 'z') && s[1] == '\0');
}

bool mc_date_parse(const char *s, time_t *t_r, bool *has_time_r)
{
	struct civil c;

	memset(&c, 0, sizeof(c));
	if (!has_shape(s, "dddd-dd-dd") && !has_shape(s, "dddd-dd-ddTdd:dd:dd"))
		return false;
	return read_iso(s, &c, has_time_r) != NULL && to_time(&c, t_r);
}

void mc_date_format(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (t == (time_t)-1 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "-");
}
