"""Settings for every test run, notebooks included: strict exercise checks (a wrong
answer in a solution notebook fails its test) and a headless matplotlib."""
import os

os.environ["INFERLAB_STRICT"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
