"""The LLM provider layer: offline/openai/google through LangChain, with our own response cache."""
