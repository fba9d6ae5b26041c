"""studio-ops dashboard (Streamlit)."""
