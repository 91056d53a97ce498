#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/llm.h"

static int classify(const char *method, const char *host, const char *path, struct llm_call *c)
{
	return llm_classify(method, host, path, c);
}

static void test_providers_by_path_and_host(void **state)
{
	struct llm_call c;

	(void)state;
	assert_int_equal(classify("POST", "api.openai.com", "/v1/chat/completions", &c), 1);
	assert_string_equal(c.provider, "openai");
	assert_string_equal(c.api, "chat.completions");
	assert_string_equal(c.model, "");
	assert_true(c.model_in_body);
	/* another host with the OpenAI shape: a stand-in, a gateway, vLLM */
	assert_int_equal(classify("POST", "llm.local:20761", "/v1/chat/completions?x=1", &c), 1);
	assert_string_equal(c.provider, "openai-compatible");
	assert_int_equal(classify("POST", "api.openai.com", "/v1/responses", &c), 1);
	assert_string_equal(c.api, "responses");
	assert_int_equal(classify("POST", "api.openai.com:443", "/v1/embeddings", &c), 1);
	assert_string_equal(c.provider, "openai");
	assert_string_equal(c.api, "embeddings");
	assert_int_equal(classify("POST", "api.anthropic.com", "/v1/messages", &c), 1);
	assert_string_equal(c.provider, "anthropic");
	assert_string_equal(c.api, "messages");
	/* the model in the path */
	assert_int_equal(classify("POST", "acme.openai.azure.com",
				  "/openai/deployments/gpt4o-prod/chat/completions", &c), 1);
	assert_string_equal(c.provider, "azure-openai");
	assert_string_equal(c.model, "gpt4o-prod");
	assert_false(c.model_in_body);
	assert_int_equal(classify("POST", "generativelanguage.googleapis.com",
				  "/v1beta/models/gemini-1.5-pro:generateContent", &c), 1);
	assert_string_equal(c.provider, "gemini");
	assert_string_equal(c.model, "gemini-1.5-pro");
	assert_int_equal(classify("POST", "us-central1-aiplatform.googleapis.com",
				  "/v1/projects/p/locations/l/publishers/google/models/gemini-2.0-flash:streamGenerateContent",
				  &c), 1);
	assert_string_equal(c.model, "gemini-2.0-flash");
	assert_string_equal(c.api, "streamGenerateContent");
	assert_int_equal(classify("POST", "bedrock-runtime.us-east-1.amazonaws.com",
				  "/model/anthropic.claude-3-sonnet-20240229-v1%3A0/invoke", &c), 1);
	assert_string_equal(c.provider, "bedrock");
	assert_string_equal(c.model, "anthropic.claude-3-sonnet-20240229-v1:0");
	assert_int_equal(classify("POST", "localhost:11434", "/api/chat", &c), 1);
	assert_string_equal(c.provider, "ollama");
	assert_string_equal(c.api, "chat");
	assert_true(c.model_in_body);
}

static void test_not_llm(void **state)
{
	struct llm_call c;

	(void)state;
	assert_int_equal(classify("GET", "api.openai.com", "/v1/chat/completions", &c), 0);
	assert_null(c.provider);
	assert_int_equal(classify("GET", "api.openai.com", "/v1/models", &c), 0);
	assert_int_equal(classify("POST", "example.com", "/v1/users", &c), 0);
	assert_int_equal(classify("POST", "example.com", "/api/chatter", &c), 0);
	assert_int_equal(classify("POST", "example.com", "/model//invoke", &c), 0);
	assert_int_equal(classify("POST", "example.com", "/x:generateContent", &c), 0);
	assert_int_equal(classify("POST", NULL, "/openai/deployments//chat/completions", &c), 1);
	assert_string_equal(c.provider, "openai-compatible"); /* no deployment: the path's shape */
	assert_int_equal(classify(NULL, NULL, NULL, &c), 0);
}

static void test_body_model_and_tools_only(void **state)
{
	const char *b = "{\"messages\":[{\"role\":\"user\",\"content\":\"my key is sk-PLANTED and \\\"quoted\\\"\"}],"
			"\"model\":\"gpt-4o-mini\",\"temperature\":0.5,\"stream\":false,"
			"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}]}";
	struct llm_body o;

	(void)state;
	assert_int_equal(llm_body_scan((const uint8_t *)b, strlen(b), &o), 0);
	assert_string_equal(o.model, "gpt-4o-mini");
	assert_true(o.tools_offered);
	assert_false(o.cut);
	assert_false(o.malformed);
	/* nothing but the model is kept: the struct holds no prompt bytes */
	assert_null(memmem(&o, sizeof(o), "sk-PLANTED", 10));
	assert_null(memmem(&o, sizeof(o), "get_weather", 11));
	/* empty tools: none offered; a model with odd bytes is reduced */
	b = " {\"model\" : \"llama3 <x>\", \"tools\": [], \"functions\": null}";
	assert_int_equal(llm_body_scan((const uint8_t *)b, strlen(b), &o), 0);
	assert_string_equal(o.model, "llama3__x_");
	assert_false(o.tools_offered);
	/* a nested "model" is not the request's */
	b = "{\"metadata\":{\"model\":\"decoy\"},\"input\":\"hi\"}";
	assert_int_equal(llm_body_scan((const uint8_t *)b, strlen(b), &o), 0);
	assert_string_equal(o.model, "");
}

static void test_body_cut_and_bad(void **state)
{
	const char *b = "{\"model\":\"claude-3-5-sonnet\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"long";
	struct llm_body o;

	(void)state;
	/* a bounded capture: the model before the cut is kept */
	assert_int_equal(llm_body_scan((const uint8_t *)b, strlen(b), &o), 0);
	assert_string_equal(o.model, "claude-3-5-sonnet");
	assert_true(o.cut);
	/* the model itself cut: not kept */
	b = "{\"messages\":[],\"model\":\"gpt-4";
	assert_int_equal(llm_body_scan((const uint8_t *)b, strlen(b), &o), 0);
	assert_string_equal(o.model, "");
	assert_true(o.cut);
	/* not an object, binary, broken: malformed, nothing kept */
	assert_int_equal(llm_body_scan((const uint8_t *)"[1,2]", 5, &o), -1);
	assert_true(o.malformed);
	assert_int_equal(llm_body_scan((const uint8_t *)"", 0, &o), -1);
	assert_int_equal(llm_body_scan((const uint8_t *)"\x00\x01\x02", 3, &o), -1);
	b = "{\"model\":\"gpt-4o\" \"x\":1}";
	assert_int_equal(llm_body_scan((const uint8_t *)b, strlen(b), &o), -1);
	assert_string_equal(o.model, "");
	b = "{\"model\":\"gpt-4o\",\"x\":\"a\x01\"}";
	assert_int_equal(llm_body_scan((const uint8_t *)b, strlen(b), &o), -1);
	/* too deep: refused, not followed */
	{
		char deep[300] = "{\"a\":";

		for (int i = 0; i < 100; i++)
			strcat(deep, "[");
		assert_int_equal(llm_body_scan((const uint8_t *)deep, strlen(deep), &o), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_providers_by_path_and_host),
		cmocka_unit_test(test_not_llm),
		cmocka_unit_test(test_body_model_and_tools_only),
		cmocka_unit_test(test_body_cut_and_bad),
	};

	return cmocka_run_group_tests_name("llm", tests, NULL, NULL);
}
