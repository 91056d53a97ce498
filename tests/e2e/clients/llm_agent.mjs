// An agent's LLM calls with the real openai SDK (tests/package-lock.json):
// two chat completions offering a tool, one embedding, against BASE_URL.
// The API key and the prompt are planted by the test, which checks that
// neither reaches anything reach writes.
// usage: LLM_KEY=K LLM_PROMPT=P node llm_agent.mjs BASE_URL (key and prompt
// in the environment: reach keeps a redacted argv, the test plants them
// where only the requests carry them)
import OpenAI from 'openai';

const baseURL = process.argv[2];
const apiKey = process.env.LLM_KEY, prompt = process.env.LLM_PROMPT;
const client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 10000 });
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }];
const out = [];
for (let i = 0; i < 2; i++) {
  const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }], tools });
  out.push(r.choices[0].message.content);
}
const e = await client.embeddings.create({ model: 'text-embedding-3-small', input: prompt });
out.push(e.data.length);
console.log(JSON.stringify(out));
