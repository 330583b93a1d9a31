/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	mbox_from 3
/* SUMMARY
/*	recognise the From_ line that starts a message of an mbox
/* SYNOPSIS
/*	#include "store-private.h"
/*
/*	bool mc_store_mbox_from_line(const unsigned char *line, size_t len);
/*
/*	bool mc_store_mbox_from_parse(const unsigned char *line, size_t len,
/*		struct mc_mbox_from *from_r);
/* DESCRIPTION
/*	LINE is one line without its newline (a CR before it is
/*	ignored).
/*
/*	mc_store_mbox_from_line() says whether LINE starts with "From "
/*	and carries a ctime()-style date somewhere after it ("Www Mmm d
/*	hh:mm"): enough after an empty line, where a writer puts its
/*	separators, to tell one from a "From here on..." paragraph.
/*
/*	mc_store_mbox_from_parse() says whether LINE is a complete From_
/*	line, nothing more and nothing less, as mbox writers make them:
/*
/*	From SENDER WWW MMM DD HH:MM[:SS] [ZONE] YYYY [ZONE] [remote from HOST]
/*
/*	SENDER is one or more words (an envelope sender, "-" from
/*	Thunderbird, "MAILER-DAEMON", a quoted local part); the date is
/*	asctime()'s, optionally with a comma after the weekday, with a
/*	time zone before the year (SunOS mail: "PST"; Google Takeout:
/*	"+0000") or after it, and a two-digit year as old writers made
/*	it. The UUCP suffix "remote from HOST" may end it. Day, hour,
/*	minute and second must be in range. This is what may start a
/*	message where no empty line comes before it, as mutt and
/*	Python's mailbox module split there: text that only mentions a
/*	date does not qualify.
/*--*/

#include <ctype.h>
#include <string.h>

#include "store-private.h"

/* Is P (3 bytes) one of the three-letter words of LIST (lower case,
   concatenated)? Returns its index or -1. */
static int word3(const unsigned char *p, const char *list)
{
	for (int i = 0; list[3 * i] != '\0'; i++) {
		const char *w = list + 3 * i;

		if (tolower(p[0]) == w[0] && tolower(p[1]) == w[1] && tolower(p[2]) == w[2])
			return i;
	}
	return -1;
}

static const char wdays[] = "montuewedthufrisatsun";
static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";

/* Without a trailing CR. */
static size_t chomp(const unsigned char *line, size_t len)
{
	return len > 0 && line[len - 1] == '\r' ? len - 1 : len;
}

bool mc_store_mbox_from_line(const unsigned char *line, size_t len)
{
	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return false;
	len = chomp(line, len);
	for (size_t i = 5; i + 3 <= len; i++) {
		size_t j, d;

		if (i > 5 && line[i - 1] != ' ' && line[i - 1] != '\t')
			continue;
		if (word3(line + i, wdays) < 0)
			continue;
		j = i + 3;
		if (j < len && line[j] == ',')
			j++;
		if (j >= len || line[j] != ' ')
			continue;
		while (j < len && line[j] == ' ')
			j++;
		if (j + 3 > len || word3(line + j, months) < 0)
			continue;
		j += 3;
		if (j >= len || line[j] != ' ')
			continue;
		while (j < len && line[j] == ' ')
			j++;
		for (d = 0; j < len && d < 2 && isdigit(line[j]); d++)
			j++;
		if (d == 0 || j >= len || line[j] != ' ')
			continue;
		while (j < len && line[j] == ' ')
			j++;
		for (d = 0; j < len && d < 2 && isdigit(line[j]); d++)
			j++;
		if (d == 0 || j + 3 > len || line[j] != ':' ||
		    !isdigit(line[j + 1]) || !isdigit(line[j + 2]))
			continue;
		return true;
	}
	return false;
}

/* The strict parse reads words: runs of bytes between spaces. */
struct cursor {
	const unsigned char *p;
	size_t len, at;
};

/* Skip spaces; false when none were there (words need one). */
static bool spaces(struct cursor *c)
{
	size_t start = c->at;

	while (c->at < c->len && (c->p[c->at] == ' ' || c->p[c->at] == '\t'))
		c->at++;
	return c->at > start;
}

/* The length of the word at C (up to a space or the end). */
static size_t word(const struct cursor *c)
{
	size_t n = 0;

	while (c->at + n < c->len && c->p[c->at + n] != ' ' && c->p[c->at + n] != '\t')
		n++;
	return n;
}

/* The next word of C after the spaces before it, taken (*W_R: where
   it starts); 0 when there are no spaces or no word. */
static size_t next_word(struct cursor *c, const unsigned char **w_r)
{
	size_t n;

	*w_r = c->p + c->at;
	if (!spaces(c))
		return 0;
	*w_r = c->p + c->at;
	n = word(c);
	c->at += n;
	return n;
}

/* A number of MIN to MAX digits in [LO, HI] that is all of W (N). */
static bool number(const unsigned char *w, size_t n, size_t min, size_t max, int lo,
		   int hi, int *value_r)
{
	int v = 0;

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit(w[i]))
			return false;
		v = v * 10 + (w[i] - '0');
	}
	*value_r = v;
	return v >= lo && v <= hi;
}

/* HH:MM or HH:MM:SS (H or HH). */
static bool clock_time(const unsigned char *w, size_t n, struct mc_mbox_from *f)
{
	const unsigned char *colon = memchr(w, ':', n);
	size_t h;

	f->second = 0;
	if (colon == NULL)
		return false;
	h = (size_t)(colon - w);
	if (!number(w, h, 1, 2, 0, 23, &f->hour))
		return false;
	w += h + 1;
	n -= h + 1;
	if (n != 2 && n != 5)
		return false;
	return number(w, 2, 2, 2, 0, 59, &f->minute) &&
		(n == 2 || (w[2] == ':' && number(w + 3, 2, 2, 2, 0, 60, &f->second)));
}

/* A time zone: +HHMM or -HHMM, capital letters (PST, CEST, UT), or
   either in parentheses as some writers add them ("(CET)"). */
static bool zone(const unsigned char *w, size_t n)
{
	int v;

	if (n >= 3 && w[0] == '(' && w[n - 1] == ')')
		return zone(w + 1, n - 2);
	if (n == 5 && (w[0] == '+' || w[0] == '-'))
		return number(w + 1, 4, 4, 4, 0, 2359, &v);
	if (n < 1 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isupper(w[i]))
			return false;
	}
	return true;
}

/* YYYY, or YY as old writers made it (70..99: 1900s). */
static bool year(const unsigned char *w, size_t n, int *year_r)
{
	if (n == 2 && number(w, 2, 2, 2, 0, 99, year_r)) {
		*year_r += *year_r >= 70 ? 1900 : 2000;
		return true;
	}
	return number(w, n, 4, 4, 1970, 2999, year_r);
}

/* The date at C and what may follow it, to the end of the line. */
static bool date_to_end(struct cursor *c, struct mc_mbox_from *f)
{
	const unsigned char *w = c->p + c->at;
	size_t n = word(c);
	bool have_zone = false;
	struct cursor rest;

	c->at += n;
	if ((n != 3 && !(n == 4 && w[3] == ',')) || word3(w, wdays) < 0)
		return false;
	if (next_word(c, &w) != 3 || (f->month = word3(w, months) + 1) == 0)
		return false;
	n = next_word(c, &w);
	if (!number(w, n, 1, 2, 1, 31, &f->day))
		return false;
	n = next_word(c, &w);
	if (!clock_time(w, n, f))
		return false;
	n = next_word(c, &w);
	if (zone(w, n)) {
		have_zone = true;
		n = next_word(c, &w);
	}
	if (!year(w, n, &f->year))
		return false;
	/* Then a zone (unless one came before), "remote from HOST". */
	rest = *c;
	n = next_word(&rest, &w);
	if (!have_zone && zone(w, n)) {
		*c = rest;
		n = next_word(&rest, &w);
	}
	if (n == 6 && memcmp(w, "remote", 6) == 0) {
		if (next_word(&rest, &w) != 4 || memcmp(w, "from", 4) != 0 ||
		    next_word(&rest, &w) == 0)
			return false;
		*c = rest;
	}
	spaces(c);
	return c->at == c->len;
}

bool mc_store_mbox_from_parse(const unsigned char *line, size_t len,
			      struct mc_mbox_from *from_r)
{
	struct cursor c = { line, 0, 5 };
	struct mc_mbox_from f;

	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return false;
	c.len = chomp(line, len);
	if (word(&c) == 0)
		return false;
	/* The sender is the words before the first place from which a
	   date runs to the end of the line. */
	for (;;) {
		struct cursor at_date;
		size_t sender_end;

		c.at += word(&c);
		sender_end = c.at;
		if (!spaces(&c) || c.at == c.len)
			return false;
		at_date = c;
		memset(&f, 0, sizeof(f));
		if (date_to_end(&at_date, &f)) {
			f.sender_off = 5;
			f.sender_len = sender_end - 5;
			if (from_r != NULL)
				*from_r = f;
			return true;
		}
	}
}
