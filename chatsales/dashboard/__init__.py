"""The dashboard: a Streamlit app over the reporting database (read-only), started by `chatsales dashboard`."""
