"""The journey engine: the condition language, the definition graph and its validation, the
runner that walks a user journey's steps, and the dispatcher that executes due step runs."""
