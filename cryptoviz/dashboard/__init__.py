"""The dashboard's helpers without Streamlit: its Redis reader, tables, figures, candles and KPIs."""
