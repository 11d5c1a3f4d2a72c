"""``make demo``: the main job on embedded defaults (filled in as the pipeline grows)."""

import argparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="demo-output")
    parser.parse_args()


if __name__ == "__main__":
    main()
