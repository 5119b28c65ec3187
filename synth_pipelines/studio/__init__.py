"""The studio: one service layer (``service.py``) behind a REST + Socket.IO API (``api.py``) and a Streamlit app."""
