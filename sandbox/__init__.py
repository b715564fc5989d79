"""The Docker sandbox that confines candidate code, and the code that runs inside it."""
