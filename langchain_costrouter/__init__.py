"""langchain-costrouter: send each LangChain chat call to the cheapest capable model."""
