"""Train live (/train): training on classic tasks while you watch. Stub until the page is written."""

import streamlit as st

import pages.shared  # noqa: F401 - first: routes a fresh server's deep links through app.py

st.title("Train live")
st.info("This page is not built yet.", icon=":material/construction:")
st.write("It will train a small model live on classic tasks, with loss curves updating as it learns.")
