"""The yardstick of bench/click_bench.py: a Flask app answering a fixed 302 and nothing else."""

from flask import Flask, Response

app = Flask(__name__)


@app.get("/c/<code>")
def follow(code: str):
    return Response(status=302, headers={"Location": "https://shop.example/landing?lp_click=fixed"})


@app.get("/health")
def health():
    return {"status": "ok"}
