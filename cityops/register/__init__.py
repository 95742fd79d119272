"""The lasting register: every ticket and every event of it in the application database,
kept as long as the operator configures (independent of Temporal's retention), and the
supervisor's figures computed from it (KPIs, vital signs)."""
