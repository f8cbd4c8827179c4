"""Production monitoring: drift of the served model's inputs and outputs against its test-split predictions.

The reader (``predictions``) and the CloudWatch source use the standard library and boto3 only; the report
(``report``) needs Evidently, which runs in its own environment (``make monitor-env``, ``.venv-monitor``).
"""
