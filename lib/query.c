/* SPDX-License-Identifier: GPL-2.0-or-later */
/*++
/* NAME
/*	query 3
/* SUMMARY
/*	the query language: lexer, parser and query text
/* SYNOPSIS
/*	#include <mailcure/mailcure.h>
/*
/*	struct mc_query *mc_query_parse(text, &error)
/*	void	mc_query_free(&query)
/*	bool	mc_query_needs_engine(query)
/*	bool	mc_query_needs_body(query)
/*	const char *mc_query_text(query)
/* DESCRIPTION
/*	This file holds the lexer, the parser of operators and
/*	parentheses and the canonical query text; query_term.c parses
/*	one term (a table of keys), query_text.c matches text and
/*	names, query_eval.c evaluates (mc_query_eval, mc_match_clear,
/*	mc_reason_kind_name). What they share is in query-private.h.
/*	The language, as all four implement it:
/*
/*	Grammar (keys and the words and/or/not are case-insensitive):
/*
/*	    query   = or-expr
/*	    or-expr = and-expr *("or" and-expr)
/*	    and-expr = unary *(["and"] unary)
/*	    unary   = "not" unary / "(" or-expr ")" / term
/*
/*	so NOT binds tightest, then AND (also implicit, by juxtaposition),
/*	then OR: "a or b c" is "a or (b and c)", "not a b" is "(not a)
/*	and b". A term is a word: KEY:VALUE, size>N (also <, >=, <=, =),
/*	@FILE, virus or all. DATE values are YYYY-MM-DD or
/*	YYYY-MM-DDTHH:MM:SS (mc_date_parse). A double-quoted section of a word may hold
/*	spaces and parentheses (subject:"urgent invoice"); \" and \\
/*	escape inside quotes. A quoted or/and/not is a word, not an
/*	operator.
/*
/*	GLOB values (virus, from, to, cc, attachment) are shell globs
/*	matched case-insensitively against the whole string; a value
/*	without * ? or [ matches as a substring, so from:evil.example
/*	finds every address at that domain. from:, to: and cc: match a
/*	mailbox's address, its decoded display name, or its address as
/*	written (see mc_address_parse). TEXT values (subject,
/*	header, message-id, body) match as case-insensitive substrings
/*	with runs of white space counting as one space; HTML parts are
/*	searched both as they are and as their text without tags and
/*	with entities decoded, so markup inside a phrase does not hide
/*	it. Case folding is Unicode case folding when the value is not
/*	plain ASCII. attachment: also tries the file name without the
/*	trailing dots and spaces that Windows ignores ("x.exe." runs as
/*	"x.exe"). sha256:/md5: match a decoded MIME part (for single-part
/*	mail, the whole decoded body) or the message as a whole.
/*	url:GLOB and domain:NAME match the URLs of the message's text
/*	parts (mc_facts_urls, url.c), in normal form; their values are
/*	refanged, a url: value without glob characters is normalised
/*	and a domain: value is a domain in ASCII form, which matches
/*	itself and its subdomains. Their reason is the URL. yara and
/*	yara:GLOB (the rule's name or NAMESPACE:RULE) run the rules given
/*	with mc_query_set_yara() once per message (engine/yara.c); the
/*	reason is NAMESPACE:RULE, with tags and metadata as its detail.
/*	header:NAME:TEXT with empty TEXT (or header:NAME) means the header
/*	is present. since:/before: compare the Date header (UTC, in any
/*	form mc_date_parse_header reads, before 1970 too); a message
/*	without a usable Date matches neither, and date:none finds it.
/*
/*	@FILE is an indicator list: each non-empty line not starting with
/*	# is one term, its value running to the end of the line (quotes
/*	are optional); a line of 32 or 64 hexadecimal digits is an md5 or
/*	sha256. The terms are ORed; hashes are looked up in a sorted set,
/*	so a list of 100,000 hashes costs a binary search per part, and
/*	many domain: terms in a hash set (ioc.c). @FILE of a threat-intel
/*	feed (MISP, STIX 2.1, CSV: mc_ioc_is_feed) is one term of its
/*	indicators, whose reason (kind ioc) is the indicator's value with
/*	its type, ids, event and file as detail. The term "ioc" stands
/*	for the indicators of --ioc (query_ioc.c).
/*
/*	Evaluation uses Kleene three-valued logic over three cost levels:
/*	(1) headers, size, date, all; (2) the MIME walk: body, attachment,
/*	sha256, md5, url, domain, yara, ioc and feeds; (3) the detection engine: virus. The
/*	query is first evaluated with only level 1 known; the MIME walk happens only if
/*	the answer is still unknown and the query has level-2 terms; the
/*	engine runs (once) only if it is still unknown after that. A term
/*	that cannot be known (MIME limit, engine limit or error) stays
/*	unknown; if the answer depends on it, the message is not matched
/*	and match->problem says why. A MIME term that the parts found
/*	before a MIME limit already satisfy is true. Before the MIME walk,
/*	an attachment: term whose glob has a literal run is false for a
/*	message that holds the run nowhere and cannot spell a file name
/*	in an encoded form; most messages are decided so. Likewise a
/*	from:, to: or cc: term with a literal run is false, without
/*	parsing addresses, when the header's values hold the run nowhere
/*	(white space and dots aside) and use no quoted, commented,
/*	encoded or IDN form. mc_query_eval()
/*	overwrites *match_r (clear a previous result first); FACTS may
/*	be NULL, then it uses facts of its own.
/*
/*	Reasons list the true terms that made the match, in query order:
/*	all terms of a true AND, the true branches of a true OR, nothing
/*	under a NOT. The value is the concrete thing matched: the
/*	signature name, the address ("name <address>" when the name
/*	matched), the file name, the hash, the subject, "size=N", the
/*	Date ("none" for date:none); NULL for "all".
/* DIAGNOSTICS
/*	Parse errors name the term and its 1-based character position:
/*	"query: unknown key 'frm' at position 1 (frm:x)". Errors in an
/*	indicator file name the file and line instead.
/* SECURITY
/*	Parsing, evaluation and printing recurse over the tree, so the
/*	nesting of parentheses and "not" is bounded at parse time. The
/*	query is read-only after parsing and is shared by all worker
/*	threads; all per-message state lives in mc_query_eval's frame.
/*--*/

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "query-private.h"

/* ------------------------------------------------------------------ */
/* Nodes                                                              */
/* ------------------------------------------------------------------ */

struct node *mc_query_node_new(enum node_type type)
{
	struct node *n = mc_xcalloc(1, sizeof(*n));

	n->type = type;
	return n;
}

void mc_query_node_add(struct node *n, struct node *kid)
{
	MC_ARRAY_PUSH(n->kids, n->nkids, n->capkids, kid);
}

void mc_query_node_free(struct node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		mc_query_node_free(n->kids[i]);
	free(n->kids);
	free(n->file);
	free(n->value);
	free(n->hname);
	free(n->literal);
	free(n->nd.ascii);
	g_free(n->nd.folded);
	free(n->sha256s);
	free(n->md5s);
	mc_ioc_set_free(&n->ioc);
	free(n);
}

static void scan_needs(const struct node *n, struct mc_query *q)
{
	if (n->type == N_TERM && n->kind == T_IOCREF && q->ioc_root != NULL &&
	    n != q->ioc_root)
		scan_needs(q->ioc_root, q);
	if (n->type == N_TERM) {
		int level = mc_query_term_level(n->kind);
		if (level == 3)
			q->needs_engine = true;
		else if (level == 2)
			q->needs_mime = true;
		if (n->literal != NULL && n->kind == T_ATTACHMENT)
			q->has_literal = true;
		if (n->kind == T_YARA)
			q->needs_yara = true;
	}
	for (size_t i = 0; i < n->nkids; i++)
		scan_needs(n->kids[i], q);
}

/* ------------------------------------------------------------------ */
/* Lexer and parser                                                   */
/* ------------------------------------------------------------------ */

enum tok_type { TK_WORD, TK_LPAREN, TK_RPAREN, TK_END };

struct token {
	enum tok_type type;
	char *text;		/* unquoted */
	size_t key_limit;	/* index of the first quoted character */
	bool op_or, op_and, op_not;
	size_t pos;		/* 1-based character position */
	char *raw;		/* as written */
};

struct parser {
	struct token *toks;
	size_t ntoks, captoks, i;
	char **error_r;
	unsigned depth;
};

/* 1-based character (not byte) position of byte OFF of S, counted
   on from the last call (offsets only grow), so lexing stays linear. */
struct charpos {
	size_t off;
	size_t pos;
};

static size_t char_pos(struct charpos *cp, const char *s, size_t off)
{
	for (; cp->off < off; cp->off++) {
		if (((unsigned char)s[cp->off] & 0xc0) != 0x80)
			cp->pos++;
	}
	return cp->pos;
}

static int lex(struct parser *p, const char *s)
{
	size_t i = 0, len = strlen(s);
	struct charpos cp = { 0, 1 };

	for (;;) {
		struct token t;

		while (i < len && mc_query_is_space((unsigned char)s[i]))
			i++;
		memset(&t, 0, sizeof(t));
		t.pos = char_pos(&cp, s, i);
		if (i >= len) {
			t.type = TK_END;
			MC_ARRAY_PUSH(p->toks, p->ntoks, p->captoks, t);
			return 0;
		}
		if (s[i] == '(' || s[i] == ')') {
			t.type = s[i] == '(' ? TK_LPAREN : TK_RPAREN;
			t.raw = mc_xstrndup(s + i, 1);
			i++;
			MC_ARRAY_PUSH(p->toks, p->ntoks, p->captoks, t);
			continue;
		}
		struct mc_buf b = { NULL, 0, 0 };
		size_t start = i;
		t.type = TK_WORD;
		t.key_limit = SIZE_MAX;
		mc_buf_add(&b, "", 0);
		while (i < len && !mc_query_is_space((unsigned char)s[i]) &&
		       s[i] != '(' && s[i] != ')') {
			if (s[i] != '"') {
				mc_buf_add(&b, s + i, 1);
				i++;
				continue;
			}
			size_t q = i++;
			if (t.key_limit == SIZE_MAX)
				t.key_limit = b.len;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				mc_buf_add(&b, s + i, 1);
				i++;
			}
			if (i >= len) {
				free(b.s);
				return mc_error_set(p->error_r,
					"query: unterminated quote at position %zu (%s)",
					char_pos(&cp, s, q), s + start);
			}
			i++;
		}
		t.text = b.s;
		t.raw = mc_xstrndup(s + start, i - start);
		if (t.key_limit == SIZE_MAX) {
			t.key_limit = b.len;
			t.op_or = g_ascii_strcasecmp(t.text, "or") == 0;
			t.op_and = g_ascii_strcasecmp(t.text, "and") == 0;
			t.op_not = g_ascii_strcasecmp(t.text, "not") == 0;
		}
		MC_ARRAY_PUSH(p->toks, p->ntoks, p->captoks, t);
	}
}

static const struct token *peek(const struct parser *p)
{
	return &p->toks[p->i];
}

static bool ends_operand(const struct token *t)
{
	return t->type == TK_END || t->type == TK_RPAREN || t->op_or ||
		t->op_and;
}

static int parse_error(struct parser *p, const struct token *t,
		       const char *what)
{
	if (t->type == TK_END)
		return mc_error_set(p->error_r, "query: %s at position %zu (end of query)",
				    what, t->pos);
	return mc_error_set(p->error_r, "query: %s at position %zu (%s)", what,
			    t->pos, t->raw);
}

static struct node *parse_or(struct parser *p);

static struct node *parse_unary(struct parser *p)
{
	const struct token *t = peek(p);

	if (p->depth >= QUERY_MAX_NESTING) {
		parse_error(p, t, "query nested too deeply");
		return NULL;
	}
	if (t->op_not) {
		const struct token *nt;
		struct node *kid, *n;
		p->i++;
		nt = peek(p);
		if (ends_operand(nt)) {
			mc_error_set(p->error_r, "query: missing term after 'not' at position %zu",
				     t->pos);
			return NULL;
		}
		p->depth++;
		kid = parse_unary(p);
		p->depth--;
		if (kid == NULL)
			return NULL;
		n = mc_query_node_new(N_NOT);
		mc_query_node_add(n, kid);
		return n;
	}
	if (t->type == TK_LPAREN) {
		const struct token *open = t;
		struct node *inner;
		p->i++;
		if (peek(p)->type == TK_RPAREN) {
			parse_error(p, open, "empty parentheses");
			return NULL;
		}
		p->depth++;
		inner = parse_or(p);
		p->depth--;
		if (inner == NULL)
			return NULL;
		if (peek(p)->type != TK_RPAREN) {
			mc_error_set(p->error_r,
				     "query: missing ')' at position %zu (for '(' at position %zu)",
				     peek(p)->pos, open->pos);
			mc_query_node_free(inner);
			return NULL;
		}
		p->i++;
		return inner;
	}
	if (t->type == TK_RPAREN) {
		parse_error(p, t, "unexpected ')'");
		return NULL;
	}
	if (t->type == TK_END) {
		parse_error(p, t, "missing term");
		return NULL;
	}
	if (t->op_or || t->op_and) {
		parse_error(p, t, t->op_or ? "'or' without a term before it" :
			    "'and' without a term before it");
		return NULL;
	}
	p->i++;
	struct where w = { NULL, 0, t->pos, t->raw, false };
	if (p->i >= 2) {
		const struct token *prev = &p->toks[p->i - 2];
		w.after_value = prev->type == TK_WORD && strchr(prev->text, ':') != NULL;
	}
	if (t->text[0] == '@' && t->key_limit > 0) {
		if (t->text[1] == '\0') {
			mc_query_term_error(&w, p->error_r, "'@' needs a file name, as in @FILE");
			return NULL;
		}
		return mc_query_indicators_load(t->text + 1, &w, p->error_r);
	}
	return mc_query_term_parse(t->text, t->key_limit, &w, p->error_r);
}

/* Add KID to N, merging a same-type operator (not an indicator
   list, which keeps its name for the query text). */
static void node_absorb(struct node *n, struct node *kid)
{
	if (kid->type == n->type && kid->file == NULL && n->file == NULL) {
		for (size_t i = 0; i < kid->nkids; i++)
			mc_query_node_add(n, kid->kids[i]);
		kid->nkids = 0;
		mc_query_node_free(kid);
		return;
	}
	mc_query_node_add(n, kid);
}

static struct node *single(struct node *n)
{
	if (n->nkids == 1 && n->file == NULL &&
	    (n->type == N_AND || n->type == N_OR)) {
		struct node *k = n->kids[0];
		n->nkids = 0;
		mc_query_node_free(n);
		return k;
	}
	return n;
}

static struct node *parse_and(struct parser *p)
{
	struct node *n = mc_query_node_new(N_AND);

	for (;;) {
		const struct token *t = peek(p);
		if (t->type == TK_END || t->type == TK_RPAREN || t->op_or)
			break;
		if (t->op_and) {
			if (n->nkids == 0) {
				parse_error(p, t, "'and' without a term before it");
				goto fail;
			}
			p->i++;
			if (ends_operand(peek(p))) {
				mc_error_set(p->error_r,
					     "query: missing term after 'and' at position %zu",
					     t->pos);
				goto fail;
			}
			continue;
		}
		struct node *kid = parse_unary(p);
		if (kid == NULL)
			goto fail;
		node_absorb(n, kid);
	}
	if (n->nkids == 0) {
		const struct token *t = peek(p);
		parse_error(p, t, t->op_or ? "'or' without a term before it" :
			    t->type == TK_RPAREN ? "unexpected ')'" : "missing term");
		goto fail;
	}
	return single(n);
fail:
	mc_query_node_free(n);
	return NULL;
}

static struct node *parse_or(struct parser *p)
{
	struct node *n = mc_query_node_new(N_OR);

	for (;;) {
		struct node *kid = parse_and(p);
		if (kid == NULL)
			goto fail;
		node_absorb(n, kid);
		const struct token *t = peek(p);
		if (!t->op_or)
			break;
		p->i++;
		if (ends_operand(peek(p))) {
			mc_error_set(p->error_r, "query: missing term after 'or' at position %zu",
				     t->pos);
			goto fail;
		}
	}
	return single(n);
fail:
	mc_query_node_free(n);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Query text                                                         */
/* ------------------------------------------------------------------ */

static void put_value(GString *out, const char *v)
{
	bool quote = *v == '\0';

	for (const char *c = v; *c != '\0'; c++) {
		if (mc_query_is_space((unsigned char)*c) || *c == '(' || *c == ')' ||
		    *c == '"' || *c == '\\')
			quote = true;
	}
	if (!quote) {
		g_string_append(out, v);
		return;
	}
	g_string_append_c(out, '"');
	for (const char *c = v; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			g_string_append_c(out, '\\');
		g_string_append_c(out, *c);
	}
	g_string_append_c(out, '"');
}

static void put_size(GString *out, uint64_t v)
{
	static const char suffix[] = "GMk";
	static const unsigned shift[] = { 30, 20, 10 };

	for (size_t i = 0; i < 3; i++) {
		uint64_t unit = 1ULL << shift[i];
		if (v >= unit && v % unit == 0) {
			g_string_append_printf(out, "%" PRIu64 "%c", v / unit, suffix[i]);
			return;
		}
	}
	g_string_append_printf(out, "%" PRIu64, v);
}

/* As mc_date_parse reads it: four-digit years, also before 1000. */
void mc_query_put_date(char *buf, size_t size, time_t t, bool with_time)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (with_time)
		snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		snprintf(buf, size, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday);
}

static void render(GString *out, const struct node *n, int parent_prec)
{
	static const char *const size_ops[] = { ">", "<", ">=", "<=", "=" };
	char date[64];

	switch (n->type) {
	case N_OR:
		if (n->file != NULL) {
			g_string_append_c(out, '@');
			put_value(out, n->file);
			return;
		}
		/* fall through */
	case N_AND: {
		int prec = n->type == N_OR ? 1 : 2;
		if (parent_prec > prec)
			g_string_append_c(out, '(');
		for (size_t i = 0; i < n->nkids; i++) {
			if (i > 0)
				g_string_append(out, n->type == N_OR ? " or " : " ");
			render(out, n->kids[i], prec);
		}
		if (parent_prec > prec)
			g_string_append_c(out, ')');
		return;
	}
	case N_NOT:
		g_string_append(out, "not ");
		render(out, n->kids[0], 3);
		return;
	case N_TERM:
		break;
	}
	switch (n->kind) {
	case T_VIRUS: case T_YARA:
		g_string_append(out, mc_query_term_key(n->kind));
		if (n->value != NULL) {
			g_string_append_c(out, ':');
			put_value(out, n->value);
		}
		break;
	case T_ALL:
		g_string_append(out, "all");
		break;
	case T_SIZE:
		g_string_append(out, "size");
		g_string_append(out, size_ops[n->op]);
		put_size(out, n->size);
		break;
	case T_SINCE: case T_BEFORE:
		mc_query_put_date(date, sizeof(date), n->date, n->date_time);
		g_string_append_printf(out, "%s:%s", mc_query_term_key(n->kind), date);
		break;
	case T_HEADER: {
		char *v = mc_xasprintf("%s%s%s", n->hname, *n->value ? ":" : "",
				       n->value);
		g_string_append(out, "header:");
		put_value(out, v);
		free(v);
		break;
	}
	case T_HASHSET:
		g_string_append(out, "(hashes)");
		break;
	case T_IOC:
		if (n->file != NULL) {
			g_string_append_c(out, '@');
			put_value(out, n->file);
		} else {
			g_string_append(out, n->domains_only ? "(domains)" : "(indicators)");
		}
		break;
	case T_IOCREF:
		g_string_append(out, "ioc");
		break;
	default:
		g_string_append(out, mc_query_term_key(n->kind));
		g_string_append_c(out, ':');
		put_value(out, n->value);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Public: parse and free                                             */
/* ------------------------------------------------------------------ */

struct mc_query *mc_query_parse(const char *text, char **error_r)
{
	struct parser p;
	struct mc_query *q;
	struct node *root = NULL;
	bool blank = true;

	if (text != NULL) {
		for (const char *c = text; *c != '\0'; c++) {
			if (!mc_query_is_space((unsigned char)*c))
				blank = false;
		}
	}
	if (blank)
		text = "virus";	/* see also mc_query_add_ioc() */
	memset(&p, 0, sizeof(p));
	p.error_r = error_r;
	if (lex(&p, text) == 0) {
		root = parse_or(&p);
		if (root != NULL && peek(&p)->type != TK_END) {
			parse_error(&p, peek(&p), "unexpected ')'");
			mc_query_node_free(root);
			root = NULL;
		}
	}
	for (size_t i = 0; i < p.ntoks; i++) {
		free(p.toks[i].text);
		free(p.toks[i].raw);
	}
	free(p.toks);
	if (root == NULL)
		return NULL;

	q = mc_xcalloc(1, sizeof(*q));
	q->root = root;
	q->defaulted = blank;
	mc_query_scan_needs(q);
	mc_query_render(q);
	return q;
}

void mc_query_scan_needs(struct mc_query *q)
{
	q->needs_engine = q->needs_mime = q->has_literal = q->needs_yara = false;
	scan_needs(q->root, q);
}

void mc_query_render(struct mc_query *q)
{
	GString *out = g_string_new(NULL);

	render(out, q->root, 0);
	free(q->text);
	q->text = mc_xstrdup(out->str);
	g_string_free(out, TRUE);
}

void mc_query_free(struct mc_query **query)
{
	if (*query == NULL)
		return;
	mc_query_node_free((*query)->root);
	mc_query_node_free((*query)->ioc_root);
	free((*query)->text);
	free(*query);
	*query = NULL;
}

bool mc_query_needs_yara(const struct mc_query *query)
{
	return query->needs_yara;
}

bool mc_query_needs_engine(const struct mc_query *query)
{
	return query->needs_engine;
}

bool mc_query_needs_body(const struct mc_query *query)
{
	return query->needs_mime || query->needs_engine;
}

const char *mc_query_text(const struct mc_query *query)
{
	return query->text;
}
