"""Settings for every test run, notebooks included: strict exercise checks (a wrong
answer in a solution notebook fails its test), a headless matplotlib, and quick mode for
the lab that measures the machine (INFERLAB_QUICK=1: small sizes, so it runs in seconds)."""
import os

os.environ["INFERLAB_STRICT"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("INFERLAB_QUICK", "1")
