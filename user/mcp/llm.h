/* LLM API calls (issue #18): which inference API a request goes to, and
 * which model it asks for, from the request line, the host and the first
 * bytes of its JSON body. By allow-list: the provider, the model name and
 * whether tools were offered are all that is kept; a prompt, a message, a
 * system text, an image or any other body field is never copied out of
 * the caller's buffer (which the caller wipes).
 *
 * Recognised (method POST):
 *   OpenAI-compatible  .../v1/chat/completions, /v1/completions,
 *                      /v1/responses, /v1/embeddings         model: body
 *   Azure OpenAI       /openai/deployments/<dep>/...          model: <dep>
 *   Anthropic          .../v1/messages                        model: body
 *   Gemini             .../models/<m>:generateContent (and stream, embed)
 *   Bedrock            /model/<id>/invoke|converse (and stream)
 *   Ollama             /api/chat, /api/generate, /api/embed   model: body
 * The provider comes from the host when it is a known one (api.openai.com,
 * *.openai.azure.com, api.anthropic.com, *googleapis.com,
 * bedrock-runtime.*.amazonaws.com), else from the API's shape
 * ("openai-compatible" for an OpenAI path on another host: a local
 * stand-in, a gateway, vLLM). */
#ifndef REACH_MCP_LLM_H
#define REACH_MCP_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LLM_NAME_LEN 96

struct llm_call {
	/* static strings, NULL when not an LLM call */
	const char *provider;     /* "openai", "openai-compatible", "azure-openai", "anthropic", "gemini", "bedrock", "ollama" */
	const char *api;          /* "chat.completions", "responses", "embeddings", "messages", "generateContent", ... */
	char model[LLM_NAME_LEN]; /* from the path (Azure, Gemini, Bedrock); "" until the body says */
	bool model_in_body;       /* the API names its model in the JSON body */
};

/* Is method+path (the path without its query string) to host an LLM API
 * call? 1 and *out filled, else 0 (out zeroed). host may be "" or NULL. */
int llm_classify(const char *method, const char *host, const char *path, struct llm_call *out);

struct llm_body {
	char model[LLM_NAME_LEN]; /* the top-level "model" string, reduced to [A-Za-z0-9._:/@-]; "" none */
	bool tools_offered;       /* a non-empty top-level "tools" or "functions" array */
	bool cut;                 /* the bytes ended before the object did (a bounded capture) */
	bool malformed;           /* not a JSON object: counted and skipped by the caller */
};

/* Reads the top-level members of the JSON object in buf[0..len) (a
 * capture, maybe cut anywhere) without building it: only the keys "model",
 * "tools" and "functions" are looked at; every other value is skipped
 * byte by byte, never copied. Linear in len, nesting bounded. Returns 0,
 * or -1 when it is not a JSON object (out->malformed). */
int llm_body_scan(const uint8_t *buf, size_t len, struct llm_body *out);

#endif
