"""The supervisor's report and dashboard: one HTML page of charts and tables over the
figures of service/cityview.py, with plotly's JavaScript embedded (the report, offline)
or served by the API from the installed package (the dashboard); never from a CDN."""
