/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	test-url 1
/* SUMMARY
/*	unit tests of URL extraction and normalisation (lib/url.c)
/* DESCRIPTION
/*	Pins the normal form (scheme and host case, default ports,
/*	percent-escapes, IDN in punycode and Unicode, "\\" as "/"),
/*	extraction from text (bare URLs, "www.", closing punctuation)
/*	and HTML (attributes with entities and line breaks, protocol-
/*	relative values, entity-encoded text), URLs inside tracking
/*	redirects, domain matching (a subdomain matches, a longer name
/*	ending in the same letters does not), refanging of indicators,
/*	and the bound on work: a 20 MB run and a million URLs.
/*--*/

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailcure/mailcure.h"
#include "internal.h"

static void check_norm(const char *in, const char *want)
{
	char *got = mc_url_normalize(in, strlen(in));

	if (want == NULL && got != NULL)
		fail_msg("\"%s\" normalised to \"%s\", not rejected", in, got);
	if (want != NULL && (got == NULL || strcmp(got, want) != 0))
		fail_msg("\"%s\" normalised to \"%s\", not \"%s\"", in,
			 got != NULL ? got : "(NULL)", want);
	free(got);
}

/* The URLs of TEXT, joined by spaces. */
static char *urls_of(const char *text, bool html)
{
	struct mc_url_list l;
	struct mc_buf b = { NULL, 0, 0 };

	mc_url_list_init(&l, 1000);
	mc_url_extract(&l, text, strlen(text), html);
	mc_buf_add(&b, "", 0);
	for (size_t i = 0; i < l.count; i++) {
		if (i > 0)
			mc_buf_add(&b, " ", 1);
		mc_buf_add(&b, l.urls[i], strlen(l.urls[i]));
	}
	mc_url_list_deinit(&l);
	return b.s;
}

static void check_urls(const char *text, bool html, const char *want)
{
	char *got = urls_of(text, html);

	if (strcmp(got, want) != 0)
		fail_msg("URLs of \"%s\": \"%s\", not \"%s\"", text, got, want);
	free(got);
}

static void test_normalize(void **state)
{
	(void)state;
	check_norm("HTTP://Example.COM", "http://example.com/");
	check_norm("http://example.com:80/a", "http://example.com/a");
	check_norm("https://example.com:443/a", "https://example.com/a");
	check_norm("https://example.com:0443/a", "https://example.com/a");
	check_norm("http://example.com:8080/a", "http://example.com:8080/a");
	check_norm("http://example.com./a", "http://example.com/a");
	check_norm("http://ex%61mple.com/%7euser/%2f%41?q=%3d", "http://example.com/~user/%2FA?q=%3D");
	check_norm("http://example.com/a b\xc3\xa9", "http://example.com/a%20b%C3%A9");
	check_norm("http:\\\\example.com\\a\\b?x=\\", "http://example.com/a/b?x=\\");
	check_norm("http://user:pw@Example.com/", "http://user:pw@example.com/");
	check_norm("http://paypal.com@evil.example/login", "http://paypal.com@evil.example/login");
	check_norm("http://[::1]:8080/", "http://[::1]:8080/");
	check_norm("http://b\xc3\xbc" "cher.example/", "http://xn--bcher-kva.example/");
	check_norm("http://B\xc3\x9c" "CHER.example/", "http://xn--bcher-kva.example/");
	check_norm("http://xn--BCHER-kva.example/", "http://xn--bcher-kva.example/");
	check_norm("http://ht\ntp.example/a\r\nb", "http://http.example/ab");
	check_norm("mailto:x@example.com", NULL);
	check_norm("http://", NULL);
	check_norm("http:///", NULL);
	check_norm("://example.com", NULL);
}

static void test_host(void **state)
{
	const char *h;
	size_t n;
	char *u;

	(void)state;
	assert_true(mc_url_host("http://a:b@x.example:81/p?q#f", &h, &n));
	assert_int_equal(n, 9);
	assert_memory_equal(h, "x.example", 9);
	assert_true(mc_url_host("http://[::1]/", &h, &n));
	assert_int_equal(n, 5);
	u = mc_url_unicode("http://xn--bcher-kva.example/x");
	assert_non_null(u);
	assert_string_equal(u, "http://b\xc3\xbc" "cher.example/x");
	free(u);
	assert_null(mc_url_unicode("http://example.com/xn--"));
}

static void test_domain(void **state)
{
	char *d;

	(void)state;
	d = mc_domain_normalize("Example.COM.");
	assert_string_equal(d, "example.com");
	assert_true(mc_domain_match("example.com", 11, d));
	assert_true(mc_domain_match("a.b.example.com", 15, d));
	assert_false(mc_domain_match("badexample.com", 14, d));
	assert_false(mc_domain_match("example.com.evil", 16, d));
	free(d);
	d = mc_domain_normalize("b\xc3\xbc" "cher[.]example");
	assert_string_equal(d, "xn--bcher-kva.example");
	free(d);
	d = mc_domain_normalize("*.evil(.)example");
	assert_string_equal(d, "evil.example");
	free(d);
	assert_null(mc_domain_normalize("http://x.example/"));
	assert_null(mc_domain_normalize("."));
}

static void test_refang(void **state)
{
	char *r;

	(void)state;
	r = mc_ioc_refang("hxxps[:]//evil[.]example(.)com/a[.]b");
	assert_string_equal(r, "https://evil.example.com/a.b");
	free(r);
	r = mc_ioc_refang("HXXP://x[dot]example");
	assert_string_equal(r, "http://x.example");
	free(r);
	r = mc_ioc_refang("user[at]example.com");
	assert_string_equal(r, "user@example.com");
	free(r);
}

static void test_text(void **state)
{
	(void)state;
	check_urls("see http://a.example/x. and (https://b.example/y) or "
		   "<http://c.example/z>, www.d.example/w!", false,
		   "http://a.example/x https://b.example/y http://c.example/z "
		   "http://www.d.example/w");
	check_urls("wiki https://e.example/A_(b) end", false, "https://e.example/A_(b)");
	check_urls("twice http://a.example http://A.example:80/", false, "http://a.example/");
	check_urls("xhttp://a.example/ =https://b.example/", false,
		   "http://a.example/ https://b.example/");
	check_urls("no url: foo://x.example/ mailto:a@b.example www.", false, "");
	check_urls("http://r.example/?u=https%3A%2F%2Fevil.example%2Fp&x=1", false,
		   "http://r.example/?u=https%3A%2F%2Fevil.example%2Fp&x=1 "
		   "https://evil.example/p");
	check_urls("https://r.example/https://inner.example/q", false,
		   "https://r.example/https://inner.example/q https://inner.example/q");
	check_urls("http://b\xc3\xbc" "cher.example/ok", false, "http://xn--bcher-kva.example/ok");
}

static void test_html(void **state)
{
	(void)state;
	check_urls("<a href=\"http://a.example/?x=1&amp;y=2\">t</a>", true,
		   "http://a.example/?x=1&y=2");
	check_urls("<a HREF='http&#58;//b.example&#x2F;p'>t</a>", true, "http://b.example/p");
	check_urls("<img src=//c.example/i.png><a href=\"/rel\">", true,
		   "http://c.example/i.png");
	check_urls("<a href=\"https://d.exa\r\nmple/lo\nng\">", true, "https://d.example/long");
	check_urls("<p>visit https&colon;&sol;&sol;e.example</p>", true, "https://e.example/");
	check_urls("<a data-href=\"http://f.example/\" title=\"http://g.example/\">", true,
		   "http://f.example/ http://g.example/");
	check_urls("<a href=\"unclosed http://h.example/ <a href=x>", true, "http://h.example/");
	check_urls("<form action=\"https://i.example/post\">", true, "https://i.example/post");
}

/* Work stays linear: a 20 MB run of URL characters with "://" all
   along, and a million short URLs, each well under a second. */
static void test_bounds(void **state)
{
	size_t n = 20 << 20;
	char *s = malloc(n + 1);
	struct mc_url_list l;
	clock_t t0;

	(void)state;
	for (size_t i = 0; i < n; i += 10)
		memcpy(s + i, "http://a/x", 10);
	s[n] = '\0';
	t0 = clock();
	mc_url_list_init(&l, 10000);
	mc_url_extract(&l, s, n, false);
	assert_true(l.full);
	mc_url_list_deinit(&l);
	mc_url_list_init(&l, 10000);
	mc_url_extract(&l, s, n, true);
	mc_url_list_deinit(&l);
	for (size_t i = 0; i < n; i += 10)
		memcpy(s + i, " href=\"x\"", 10);
	mc_url_list_init(&l, 10000);
	mc_url_extract(&l, s, n, true);
	assert_false(l.full);
	mc_url_list_deinit(&l);
	memset(s, 'a', n);
	memcpy(s, "http://", 7);
	mc_url_list_init(&l, 10000);
	mc_url_extract(&l, s, n, true);
	assert_int_equal(l.count, 1);
	assert_true(strlen(l.urls[0]) <= MC_URL_MAX);
	mc_url_list_deinit(&l);
	/* Many "<a href=" whose quote never closes. */
	for (size_t i = 0; i + 8 <= n; i += 8)
		memcpy(s + i, "<a href=", 8);
	memcpy(s + n - 8, "\"aaaaaaa", 8);
	mc_url_list_init(&l, 10000);
	mc_url_extract(&l, s, n, true);
	mc_url_list_deinit(&l);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	if (secs > 20)
		fail_msg("extraction over 5 x 20 MB took %.1f s", secs);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_refang),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
