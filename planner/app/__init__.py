"""Streamlit-free helpers for the app's pages: session state and sign-in, uploads, downloads, maps.

Nothing here imports streamlit; the pages in ``pages/`` call these and draw the result.
"""
