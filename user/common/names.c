#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/names.h"

char *names_identity_normalize(const char *in, char *out, size_t out_size)
{
	size_t n;

	if (!out_size)
		return out;
	if (!in)
		in = "";
	n = strnlen(in, out_size - 1);
	memmove(out, in, n); /* in may be out */
	out[n] = '\0';
	if (!strncmp(out, "host/", 5) && n > 5 + 8 && !strcmp(out + n - 8, ".service"))
		out[n - 8] = '\0';
	return out;
}

/* Levenshtein distance, capped: names are short (identities, versions). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), *row, best;

	if (la > 256 || lb > 256)
		return (size_t)-1;
	if (!(row = malloc((lb + 1) * sizeof(*row))))
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], v = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
		}
	}
	best = row[lb];
	free(row);
	return best;
}

size_t names_closest(const char *want, const char *const *names, size_t n, const char **out, size_t max_out)
{
	size_t *score, got = 0;

	if (!want || !n || !max_out || !(score = malloc(n * sizeof(*score))))
		return 0;
	for (size_t i = 0; i < n; i++) {
		size_t lw = strlen(want), ln = strlen(names[i]), longer = lw > ln ? lw : ln;
		size_t d = distance(want, names[i]);

		if (*want && (strstr(names[i], want) || strstr(want, names[i])) && d > 1)
			d = 1 + (d > 1); /* a part of the name, or the name with more: close */
		score[i] = d <= (longer + 2) / 3 ? d : (size_t)-1;
	}
	while (got < max_out) {
		size_t best = (size_t)-1;

		for (size_t i = 0; i < n; i++)
			if (score[i] != (size_t)-1 && (best == (size_t)-1 || score[i] < score[best] ||
							(score[i] == score[best] && strcmp(names[i], names[best]) < 0)))
				best = i;
		if (best == (size_t)-1)
			break;
		out[got++] = names[best];
		score[best] = (size_t)-1;
	}
	free(score);
	return got;
}

char *names_suggest(const char *want, const char *const *names, size_t n, char *out, size_t out_size)
{
	const char *near[3];
	size_t k = names_closest(want, names, n, near, 3), len;
	const char *const *list = k ? near : names;
	size_t shown = k ? k : n < 5 ? n : 5;

	if (!out_size)
		return out;
	out[0] = '\0';
	if (!n)
		return out;
	snprintf(out, out_size, "%s", k ? "; did you mean " : "; known: ");
	for (size_t i = 0; i < shown; i++) {
		len = strlen(out);
		snprintf(out + len, out_size - len, "%s%s", i == 0 ? "" : k && i == shown - 1 ? " or " : ", ", list[i]);
	}
	len = strlen(out);
	if (!k && n > shown)
		snprintf(out + len, out_size - len, " (and %zu more)", n - shown);
	else if (k)
		snprintf(out + len, out_size - len, "?");
	return out;
}
