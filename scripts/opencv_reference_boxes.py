#!/usr/bin/env python3
"""Regenerates the OpenCV reference boxes (Fixtures/opencv_boxes.json) that Tests/EmovereVisionTests/FaceDetectorTests.swift
and Tests/EmovereONNXTests/TestModels.swift read.

Developer tool only (Emovere itself never runs Python). Requires opencv-python-headless 4.x:

    python3 -m pip install 'opencv-python-headless<5'    # OpenCV 5 dropped CascadeClassifier

What it does:
1. Builds the grayscale fixture images in Tests/EmovereVisionTests/Fixtures/ from the public-domain / CC0 photos of
   ../shared/data/photos beside the checkout (or --photos DIR): cv2.imread (colour) -> cv2.cvtColor(BGR2GRAY) -> optional
   INTER_AREA downscale -> cv2.imwrite(PNG). Lossless grayscale PNG means Emovere and OpenCV see identical pixels.
   Pass --keep-images to reuse the committed fixture PNGs instead of rebuilding them.
2. Runs CascadeClassifier.detectMultiScale on exactly those fixture files (re-read with IMREAD_GRAYSCALE) for
   several parameter sets and cascades, and writes Fixtures/opencv_boxes.json.
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "EmovereVisionTests", "Fixtures")

# (fixture name, source photo, max side after downscale or None)
PHOTOS = [
    ("astronaut_gray.png", "skimage__astronaut.png", None),
    ("chelsea_gray.png", "skimage__chelsea.png", None),
    ("coffee_gray.png", "skimage__coffee.png", None),
]

PARAMETER_SETS = [
    # name, scaleFactor, minNeighbors, minSize, maxSize
    ("faceClassification", 1.3, 5, (0, 0), (0, 0)),
    ("openCVDefaults", 1.1, 3, (0, 0), (0, 0)),
    ("rawCandidates", 1.2, 0, (0, 0), (0, 0)),
    ("sizeLimited", 1.05, 4, (40, 40), (160, 160)),
]


def gray_from_photo(path):
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        sys.exit(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def weighted_sum(gray):
    """Position-sensitive checksum: sum of pixel * (index % 251 + 1) over the row-major pixels."""
    return int((gray.astype(np.int64).ravel() * (np.arange(gray.size) % 251 + 1)).sum())


def build_composite(astronaut, coffee):
    """Astronaut face crops pasted at four sizes onto the coffee photo (public domain + CC0)."""
    canvas = coffee.copy()
    face = astronaut[20:260, 110:330]  # head and shoulders of the astronaut (220x240)
    placements = [(0.9, 10, 20), (0.55, 230, 30), (0.35, 400, 200), (0.25, 80, 300)]
    for factor, x, y in placements:
        w, h = int(round(face.shape[1] * factor)), int(round(face.shape[0] * factor))
        small = cv2.resize(face, (w, h), interpolation=cv2.INTER_AREA)
        h = min(h, canvas.shape[0] - y)
        w = min(w, canvas.shape[1] - x)
        canvas[y:y + h, x:x + w] = small[:h, :w]
    return canvas


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "photos"))
    parser.add_argument("--keep-images", action="store_true")
    args = parser.parse_args()

    cascades = {
        "haarcascade_frontalface_default.xml": os.path.join(FIXTURES, "haarcascade_frontalface_default.xml"),
    }
    alt2 = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_alt2.xml")

    images = [name for name, _, _ in PHOTOS] + ["composite_gray.png"]
    if not args.keep_images:
        grays = {}
        for name, source, max_side in PHOTOS:
            gray = gray_from_photo(os.path.join(args.photos, source))
            if max_side and max(gray.shape) > max_side:
                factor = max_side / max(gray.shape)
                size = (int(round(gray.shape[1] * factor)), int(round(gray.shape[0] * factor)))
                gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
            grays[name] = gray
            cv2.imwrite(os.path.join(FIXTURES, name), gray)
        composite = build_composite(grays["astronaut_gray.png"], grays["coffee_gray.png"])
        cv2.imwrite(os.path.join(FIXTURES, "composite_gray.png"), composite)

    cases = []
    image_info = []
    for image_name in images:
        gray = cv2.imread(os.path.join(FIXTURES, image_name), cv2.IMREAD_GRAYSCALE)
        # Lets the tests prove that Emovere's PNG decoder produced the very same pixels.
        image_info.append({"image": image_name, "width": int(gray.shape[1]), "height": int(gray.shape[0]),
                           "pixelSum": int(gray.astype(np.int64).sum()),
                           "weightedPixelSum": weighted_sum(gray)})
        runs = [(c, p) for c in cascades for p in PARAMETER_SETS]
        if image_name in ("astronaut_gray.png", "composite_gray.png"):
            runs.append(("haarcascade_frontalface_alt2.xml", PARAMETER_SETS[0]))
            runs.append(("haarcascade_frontalface_alt2.xml", PARAMETER_SETS[2]))
        for cascade_name, (set_name, scale, neighbors, min_size, max_size) in runs:
            path = cascades.get(cascade_name, alt2)
            classifier = cv2.CascadeClassifier(path)
            if classifier.empty():
                sys.exit(f"cannot load {path}")
            boxes = classifier.detectMultiScale(gray, scaleFactor=scale, minNeighbors=neighbors,
                                                minSize=min_size, maxSize=max_size)
            boxes = sorted([list(map(int, b)) for b in boxes])
            cases.append({
                "image": image_name, "cascade": cascade_name, "parameters": set_name,
                "scaleFactor": scale, "minNeighbors": neighbors,
                "minSize": list(min_size), "maxSize": list(max_size), "boxes": boxes,
            })
            print(f"{image_name:22s} {cascade_name:36s} {set_name:18s} {len(boxes):4d} boxes")

    # Pyramid-resize checks: the cascade shrinks images with INTER_LINEAR_EXACT (and INTER_AREA for exact halves).
    resizes = []
    astronaut = cv2.imread(os.path.join(FIXTURES, "astronaut_gray.png"), cv2.IMREAD_GRAYSCALE)
    for width, height in [(394, 394), (303, 303), (233, 233), (256, 256), (100, 77), (511, 37), (24, 24)]:
        small = cv2.resize(astronaut, (width, height), interpolation=cv2.INTER_LINEAR_EXACT)
        resizes.append({"image": "astronaut_gray.png", "width": width, "height": height,
                        "pixelSum": int(small.astype(np.int64).sum()),
                        "weightedPixelSum": weighted_sum(small)})

    out = {"opencv_version": cv2.__version__, "images": image_info, "resizes": resizes, "cases": cases}
    with open(os.path.join(FIXTURES, "opencv_boxes.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
