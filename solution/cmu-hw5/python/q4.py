import numpy as np

import skimage
import skimage.measure
import skimage.color
import skimage.restoration
import skimage.filters
import skimage.morphology
import skimage.segmentation
import skimage.transform

LETTERS = np.array([chr(ord('A') + i) for i in range(26)] + [str(d) for d in range(10)])


# takes a color image
# returns a list of bounding boxes and black_and_white image
def findLetters(image):
    # rows are [y1, x1, y2, x2] (skimage regionprops' bbox: max row and column exclusive);
    # bw is float in [0, 1] with the characters black (0) and the background white (1)
    image = np.asarray(image, dtype=float)
    if image.max() > 1.0:
        image = image / 255.0
    gray = skimage.color.rgb2gray(image[..., :3]) if image.ndim == 3 else image
    scale = min(gray.shape) / 1000.0  # the photos are 880-3024 px on their short side
    smooth = skimage.filters.gaussian(gray, sigma=max(1.0, 2.0 * scale))
    # divide by the paper's own brightness (a heavy blur, estimated at 1/8 scale: it is smooth)
    # so shadows and uneven light go away
    coarse = skimage.filters.gaussian(gray[::8, ::8], sigma=max(1.0, 60 * scale / 8))
    paper = skimage.transform.resize(coarse, gray.shape, order=1)
    flat = smooth / np.maximum(paper, 1e-3)
    ink = flat < skimage.filters.threshold_otsu(flat)
    # join the pieces of a character drawn in several strokes
    size = max(3, int(round(7 * scale)))
    ink = skimage.morphology.closing(ink, np.ones((size, size), bool))
    regions = skimage.measure.regionprops(skimage.measure.label(ink, connectivity=2))
    if not regions:
        return np.zeros((0, 4), int), 1.0 - ink.astype(float)
    heights = np.array([r.bbox[2] - r.bbox[0] for r in regions])
    areas = np.array([r.area for r in regions])
    typical_h, typical_area = np.median(heights), np.median(areas)
    keep = (heights > 0.35 * typical_h) & (areas > 0.15 * typical_area) & (areas < 25 * typical_area)
    bboxes = np.array([r.bbox for r, k in zip(regions, keep) if k], dtype=int).reshape(-1, 4)
    bw = 1.0 - ink.astype(float)
    return bboxes, bw


def group_lines(bboxes):
    # reading order: lines top to bottom (a box joins a line when its centre falls within the
    # line's vertical extent), then left to right within a line
    order = np.argsort((bboxes[:, 0] + bboxes[:, 2]) / 2)
    lines = []
    for i in order:
        y1, x1, y2, x2 = bboxes[i]
        centre = (y1 + y2) / 2
        for line in lines:
            top, bottom = line['top'], line['bottom']
            if top <= centre <= bottom:
                line['boxes'].append(bboxes[i])
                line['top'], line['bottom'] = min(top, y1), max(bottom, y2)
                break
        else:
            lines.append({'top': y1, 'bottom': y2, 'boxes': [bboxes[i]]})
    return [sorted(line['boxes'], key=lambda b: b[1]) for line in lines]


def crop_for_network(bw, bbox, size=32, fill=0.75):
    # like the training set: the character's long side fills `fill` of a 32x32 square, dark ink
    # on white, then transposed before flattening (that's how the dataset is!)
    y1, x1, y2, x2 = bbox
    ink = 1.0 - bw[y1:y2, x1:x2]
    side = int(np.ceil(max(ink.shape) / fill))
    square = np.zeros((side, side))
    top, left = (side - ink.shape[0]) // 2, (side - ink.shape[1]) // 2
    square[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    # thin pen strokes on a big photo would vanish when shrunk: thicken them to a pen of ~2 px at 32
    radius = max(0, int(round(side / size * 0.9 - 1)))
    if radius:
        square = skimage.morphology.dilation(square, skimage.morphology.disk(radius))
    small = skimage.transform.resize(square, (size, size), anti_aliasing=True)
    small = np.clip(small / max(small.max(), 1e-6) * 1.2, 0, 1)
    return (1.0 - small).T.reshape(-1)


def extract_text(image, params, forward, softmax):
    # the text of a page, one string per line, read with the trained network's params
    bboxes, bw = findLetters(image)
    lines = []
    for boxes in group_lines(bboxes):
        x = np.stack([crop_for_network(bw, b) for b in boxes])
        h1 = forward(x, params, 'layer1')
        probs = forward(h1, params, 'output', softmax)
        lines.append(''.join(LETTERS[np.argmax(probs, axis=1)]))
    return lines
