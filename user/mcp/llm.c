#include <string.h>
#include "mcp/llm.h"

#define LLM_DEPTH 64 /* nesting followed while skipping a value; deeper is malformed */

/* A name as reach keeps it: bounded, one token of a small alphabet. "%3A"
 * (Bedrock's model ids in a path) reads as ':'. */
static void put_name(char *out, size_t size, const char *s, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < size; i++) {
		char c = s[i];
		bool ok;

		if (c == '%' && i + 2 < n && s[i + 1] == '3' && (s[i + 2] == 'A' || s[i + 2] == 'a')) {
			out[j++] = ':';
			i += 2;
			continue;
		}
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		     c == ':' || c == '/' || c == '@' || c == '-';
		out[j++] = ok ? c : '_';
	}
	out[j] = '\0';
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool host_is(const char *host, const char *name)
{
	size_t n = strlen(host), k = strlen(name);
	const char *colon = strrchr(host, ':');

	if (colon && !strchr(colon, ']'))
		n = (size_t)(colon - host);
	return n == k && memcmp(host, name, k) == 0;
}

static bool host_ends(const char *host, const char *suffix)
{
	const char *colon = strrchr(host, ':');
	size_t n = colon && !strchr(colon, ']') ? (size_t)(colon - host) : strlen(host);

	return ends_with(host, n, suffix);
}

static void set(struct llm_call *out, const char *provider, const char *api, bool model_in_body)
{
	out->provider = provider;
	out->api = api;
	out->model_in_body = model_in_body;
}

/* The provider of an API whose shape is OpenAI's, by host. */
static const char *openai_like(const char *host)
{
	if (host_is(host, "api.openai.com"))
		return "openai";
	if (host_ends(host, ".openai.azure.com") || host_ends(host, ".cognitiveservices.azure.com"))
		return "azure-openai";
	return "openai-compatible";
}

/* APIs known by the end of their path; provider NULL: OpenAI's shape, the
 * provider by host (openai_like). First match wins. */
static const struct {
	const char *suffix, *provider, *api;
} by_suffix[] = {
	{ "/chat/completions", NULL, "chat.completions" },
	{ "/v1/responses", NULL, "responses" },
	{ "/v1/embeddings", NULL, "embeddings" },
	{ "/v1/completions", NULL, "completions" },
	{ "/v1/messages", "anthropic", "messages" },
};

int llm_classify(const char *method, const char *host, const char *path, struct llm_call *out)
{
	const char *q, *m;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!method || !path || strcmp(method, "POST") != 0)
		return 0;
	if (!host)
		host = "";
	n = strcspn(path, "?#");
	/* Azure OpenAI: the deployment names the model */
	if ((m = strstr(path, "/openai/deployments/")) && m < path + n) {
		const char *dep = m + strlen("/openai/deployments/");
		const char *end = memchr(dep, '/', (size_t)(path + n - dep));

		if (end && end > dep) {
			const char *api = ends_with(path, n, "/chat/completions") ? "chat.completions"
					  : ends_with(path, n, "/embeddings")	  ? "embeddings"
					  : ends_with(path, n, "/completions")	  ? "completions"
					  : ends_with(path, n, "/responses")	  ? "responses"
										  : NULL;

			if (api) {
				set(out, "azure-openai", api, false);
				put_name(out->model, sizeof(out->model), dep, (size_t)(end - dep));
				return 1;
			}
		}
	}
	/* OpenAI's shape (the provider by host) and Anthropic's: the model in the body */
	for (size_t i = 0; i < sizeof(by_suffix) / sizeof(by_suffix[0]); i++) {
		if (ends_with(path, n, by_suffix[i].suffix)) {
			set(out, by_suffix[i].provider ? by_suffix[i].provider : openai_like(host), by_suffix[i].api, true);
			return 1;
		}
	}
	/* Gemini (Generative Language API, Vertex AI): .../models/<m>:<verb> */
	if ((q = memchr(path, ':', n)) && (m = strstr(path, "/models/")) && m < q) {
		static const char *const verbs[] = { "generateContent", "streamGenerateContent", "embedContent",
						     "batchEmbedContents", "countTokens", NULL };
		size_t vlen = (size_t)(path + n - (q + 1));

		for (int i = 0; verbs[i]; i++) {
			if (vlen == strlen(verbs[i]) && memcmp(q + 1, verbs[i], vlen) == 0) {
				const char *mod = m + strlen("/models/");

				/* the last /models/ before the verb (Vertex nests publishers/.../models/) */
				for (const char *x; (x = strstr(mod, "/models/")) && x < q;)
					mod = x + strlen("/models/");
				set(out, "gemini", verbs[i], false);
				put_name(out->model, sizeof(out->model), mod, (size_t)(q - mod));
				return 1;
			}
		}
	}
	/* Bedrock runtime: /model/<id>/<verb> */
	if (strncmp(path, "/model/", 7) == 0) {
		static const char *const verbs[] = { "invoke", "invoke-with-response-stream", "converse",
						     "converse-stream", NULL };
		const char *id = path + 7, *slash = memchr(id, '/', n - 7);

		if (slash && slash > id) {
			size_t vlen = (size_t)(path + n - (slash + 1));

			for (int i = 0; verbs[i]; i++) {
				if (vlen == strlen(verbs[i]) && memcmp(slash + 1, verbs[i], vlen) == 0) {
					set(out, "bedrock", verbs[i], false);
					put_name(out->model, sizeof(out->model), id, (size_t)(slash - id));
					return 1;
				}
			}
		}
	}
	/* Ollama's own API */
	{
		static const char *const apis[] = { "chat", "generate", "embed", "embeddings", NULL };

		for (int i = 0; apis[i]; i++) {
			if (n == 5 + strlen(apis[i]) && memcmp(path, "/api/", 5) == 0 && memcmp(path + 5, apis[i], n - 5) == 0) {
				set(out, "ollama", apis[i], true);
				return 1;
			}
		}
	}
	memset(out, 0, sizeof(*out));
	return 0;
}

/* ---- the body: a scanner, not a parser ---- */

struct scan {
	const uint8_t *b;
	size_t n, i;
};

static void ws(struct scan *s)
{
	while (s->i < s->n && (s->b[s->i] == ' ' || s->b[s->i] == '\t' || s->b[s->i] == '\n' || s->b[s->i] == '\r'))
		s->i++;
}

/* Past a string whose opening quote is at s->i. Returns 1 when closed, 0
 * when the bytes ended first. start, len: its raw bytes (escapes kept). */
static int skip_string(struct scan *s, size_t *start, size_t *len)
{
	size_t a = ++s->i;

	while (s->i < s->n) {
		uint8_t c = s->b[s->i];

		if (c == '\\') {
			s->i += 2;
			continue;
		}
		if (c == '"') {
			if (start)
				*start = a;
			if (len)
				*len = s->i - a;
			s->i++;
			return 1;
		}
		if (c < 0x20)
			return -1; /* a control byte inside a string: not JSON */
		s->i++;
	}
	s->i = s->n;
	return 0;
}

/* Past one value at s->i. 1 done, 0 the bytes ended, -1 not JSON.
 * *nonempty: an array or object with at least one member. */
static int skip_value(struct scan *s, bool *nonempty)
{
	int depth = 0;

	ws(s);
	if (s->i >= s->n)
		return 0;
	if (nonempty)
		*nonempty = false;
	if (s->b[s->i] == '"')
		return skip_string(s, NULL, NULL);
	if (s->b[s->i] != '{' && s->b[s->i] != '[') {
		/* a number, true, false, null */
		size_t a = s->i;

		while (s->i < s->n) {
			uint8_t c = s->b[s->i];

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' ||
			      c == 'E'))
				break;
			s->i++;
		}
		if (s->i == a)
			return -1;
		return s->i < s->n ? 1 : 0;
	}
	while (s->i < s->n) {
		uint8_t c = s->b[s->i];

		if (c == '"') {
			int r = skip_string(s, NULL, NULL);

			if (r <= 0)
				return r;
			if (nonempty && depth == 1)
				*nonempty = true;
			continue;
		}
		if (c == '{' || c == '[') {
			if (++depth > LLM_DEPTH)
				return -1;
			if (nonempty && depth == 2)
				*nonempty = true;
		} else if (c == '}' || c == ']') {
			if (--depth == 0) {
				s->i++;
				return 1;
			}
		} else if (nonempty && depth == 1 && !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',')) {
			*nonempty = true;
		} else if (c < 0x20 && !(c == '\t' || c == '\n' || c == '\r')) {
			return -1;
		}
		s->i++;
	}
	return 0;
}

int llm_body_scan(const uint8_t *buf, size_t len, struct llm_body *out)
{
	struct scan s = { buf, len, 0 };

	memset(out, 0, sizeof(*out));
	ws(&s);
	if (s.i >= s.n || s.b[s.i] != '{') {
		out->malformed = true;
		return -1;
	}
	s.i++;
	for (;;) {
		size_t ks = 0, kl = 0;
		int r;

		ws(&s);
		if (s.i >= s.n) {
			out->cut = true;
			return 0;
		}
		if (s.b[s.i] == '}')
			return 0;
		if (s.b[s.i] != '"')
			goto bad;
		r = skip_string(&s, &ks, &kl);
		if (r < 0)
			goto bad;
		if (r == 0) {
			out->cut = true;
			return 0;
		}
		ws(&s);
		if (s.i >= s.n) {
			out->cut = true;
			return 0;
		}
		if (s.b[s.i] != ':')
			goto bad;
		s.i++;
		ws(&s);
		if (kl == 5 && memcmp(buf + ks, "model", 5) == 0 && s.i < s.n && s.b[s.i] == '"') {
			size_t vs = 0, vl = 0;

			r = skip_string(&s, &vs, &vl);
			if (r < 0)
				goto bad;
			if (r == 0) {
				out->cut = true; /* a model name cut in the middle is not kept */
				return 0;
			}
			put_name(out->model, sizeof(out->model), (const char *)buf + vs, vl);
		} else if ((kl == 5 && memcmp(buf + ks, "tools", 5) == 0) ||
			   (kl == 9 && memcmp(buf + ks, "functions", 9) == 0)) {
			bool nonempty = false;

			r = skip_value(&s, &nonempty);
			out->tools_offered |= nonempty;
			if (r < 0)
				goto bad;
			if (r == 0) {
				out->cut = true;
				return 0;
			}
		} else {
			r = skip_value(&s, NULL);
			if (r < 0)
				goto bad;
			if (r == 0) {
				out->cut = true;
				return 0;
			}
		}
		ws(&s);
		if (s.i >= s.n) {
			out->cut = true;
			return 0;
		}
		if (s.b[s.i] == ',') {
			s.i++;
			continue;
		}
		if (s.b[s.i] == '}')
			return 0;
		goto bad;
	}
bad:
	memset(out->model, 0, sizeof(out->model));
	out->tools_offered = false;
	out->malformed = true;
	return -1;
}
