"""The prompt assistant: a chat over the open workflow's form (context: the system prompt), tools the model calls
to set fields, insert tags and propose jobs (tools), each user's conversation (conversation) and one turn of the
chat, streamed, with the confirm and undo of its actions (session)."""
