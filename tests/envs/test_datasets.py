"""Dataset readers: the real sequences of ../shared/data, fabricated layouts of every benchmark, and the
messages of every error a user can run into (missing frame, corrupt image, malformed line, length mismatch,
bad spec)."""

import logging
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tracking_by_trackers.envs.datasets import READERS, load_dataset, register_reader
from tracking_by_trackers.envs.datasets.annotation_files import read_boxes, read_flags
from tracking_by_trackers.envs.datasets.got10k import read_got10k
from tracking_by_trackers.envs.datasets.image_folder import read_image_folder
from tracking_by_trackers.envs.datasets.lasot import read_lasot
from tracking_by_trackers.envs.datasets.otb import read_otb
from tracking_by_trackers.envs.datasets.uav123 import read_config_seqs, read_uav123, read_uav123_10fps
from tracking_by_trackers.envs.datasets.video_file import read_video_file
from tracking_by_trackers.envs.datasets.vot import read_vot
from tracking_by_trackers.envs.sequence import DatasetError, ImageFiles, VideoFileFrames

# ---------------------------------------------------------------------------------------------------------
# Helpers that fabricate benchmark layouts in tmp_path.


def write_frames(folder: Path, count: int, pattern: str = "{:08d}.jpg", start: int = 1) -> list[Path]:
    """``count`` tiny images numbered from ``start``, each a different shade so frames can be told apart."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(start, start + count):
        image = np.zeros((12, 16, 3), np.uint8)
        image[..., 0] = 10 * number % 256  # blue channel in OpenCV's BGR order
        path = folder / pattern.format(number)
        assert cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def write_boxes(path: Path, count: int, separator: str = ",", first: tuple = (2, 3, 4, 5)) -> np.ndarray:
    """``count`` boxes drifting right by one pixel a frame; returns them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    boxes = np.array([[first[0] + i, first[1], first[2], first[3]] for i in range(count)], dtype=float)
    path.write_text("".join(separator.join(f"{v:g}" for v in box) + "\n" for box in boxes))
    return boxes


def make_got10k_sequence(folder: Path, count: int, absence: list[int], cover: list[int]) -> np.ndarray:
    write_frames(folder, count)
    boxes = write_boxes(folder / "groundtruth.txt", count)
    (folder / "absence.label").write_text("".join(f"{a}\n" for a in absence))
    (folder / "cover.label").write_text("".join(f"{c}\n" for c in cover))
    (folder / "meta_info.ini").write_text(
        "[METAINFO]\nurl: https://youtu.be/x\nobject_class: ichneumon\nresolution: (1280, 720)\n"
    )
    return boxes


def make_uav123_group(root: Path, config: str | None = None) -> None:
    """A 10-frame video ``group3`` cut into ``group3_1`` (frames 1..4) and ``group3_2`` (frames 5..10)."""
    write_frames(root / "data_seq" / "UAV123" / "group3", 10, pattern="{:06d}.jpg")
    write_boxes(root / "anno" / "UAV123" / "group3_1.txt", 4)
    write_boxes(root / "anno" / "UAV123" / "group3_2.txt", 6, first=(50, 3, 4, 5))
    if config is not None:
        (root / "configSeqs.m").write_text(config)


CONFIG_SEQS = """function seqUAV123=configSeqs
% struct('name','group3_1','path','X:\\old\\','startFrame',9,'endFrame',9,'nz',6,'ext','jpg','init_rect',[0,0,0,0])
seqUAV123={struct('name','group3_1','path','D:\\UAV123\\data_seq\\UAV123\\group3\\','startFrame',1,'endFrame',4,'nz',6,'ext','jpg','init_rect',[0,0,0,0]),...
struct('name','group3_2','path','D:\\UAV123\\data_seq\\UAV123\\group3\\','startFrame',5,'endFrame',10,'nz',6,'ext','jpg','init_rect',[0,0,0,0])};
"""  # noqa: E501 - the official file's lines are this long


# ---------------------------------------------------------------------------------------------------------
# Real sequences.


@pytest.mark.data
def test_otb_crossing_tab_separated(shared_data):
    (sequence,) = read_otb(shared_data / "otb" / "Crossing")
    assert (sequence.name, sequence.benchmark, len(sequence)) == ("Crossing", "OTB", 120)
    np.testing.assert_array_equal(sequence.init_box, [205, 151, 17, 50])  # "205\t151\t17\t50"
    np.testing.assert_array_equal(sequence.gt_boxes[-1], [56, 93, 14, 36])  # the file's last line
    assert not sequence.absent.any()
    frame = sequence.frames[0]
    assert frame.shape == (240, 360, 3) and frame.dtype == np.uint8


@pytest.mark.data
def test_frames_are_rgb(shared_data):
    (sequence,) = read_otb(shared_data / "otb" / "Couple")
    bgr = cv2.imread(sequence.image_files[5], cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(sequence.frames[5], bgr[..., ::-1])
    assert not np.array_equal(sequence.frames[5], bgr)  # a colour frame, so the order matters


@pytest.mark.data
def test_otb_root_reads_every_sequence_sorted_by_name(shared_data, caplog):
    with caplog.at_level(logging.WARNING, logger="tracking_by_trackers.envs.datasets.otb"):
        sequences = read_otb(shared_data / "otb")
    assert [(s.name, len(s)) for s in sequences] == [("Couple", 140), ("Crossing", 120), ("Football1", 74)]
    np.testing.assert_array_equal(sequences[0].init_box, [51, 47, 25, 62])
    assert "Football1" in caplog.text and "74 boxes for 81 images" in caplog.text


@pytest.mark.data
def test_otb_football1_is_the_first_74_of_81_frames(shared_data):
    folder = shared_data / "otb" / "Football1"
    (sequence,) = read_otb(folder)
    assert len(os.listdir(folder / "img")) == 81 and len(sequence) == 74
    assert Path(sequence.image_files[-1]).name == "0074.jpg"
    np.testing.assert_array_equal(sequence.init_box, [153, 105, 26, 43])  # comma-separated
    assert sequence.frames[73].shape == (288, 352, 3)


@pytest.mark.data
def test_vot_bag_polygons_become_enclosing_boxes(shared_data):
    (sequence,) = read_vot(shared_data / "vot" / "bag")
    assert (sequence.name, sequence.benchmark, len(sequence)) == ("bag", "VOT", 196)
    # First line 334.02,128.36,438.19,188.78,396.39,260.83,292.23,200.41: x in [292.23, 438.19],
    # y in [128.36, 260.83].
    np.testing.assert_allclose(sequence.init_box, [292.23, 128.36, 438.19 - 292.23, 260.83 - 128.36])
    assert sequence.frames[0].shape == (360, 480, 3)
    assert read_vot(shared_data / "vot")[0].name == "bag"


@pytest.mark.data
def test_uav123_10fps_lengths_and_absent_frames(shared_data):
    building5, group3w = read_uav123_10fps(shared_data / "uav123")
    assert (building5.name, len(building5), building5.benchmark) == ("building5", 161, "UAV123_10fps")
    assert (group3w.name, len(group3w)) == ("group3w", 81)
    np.testing.assert_array_equal(building5.init_box, [530, 525, 22, 62])
    np.testing.assert_array_equal(group3w.init_box, [664, 320, 13, 35])
    assert not building5.absent.any()
    assert group3w.absent.sum() == 35
    assert np.isnan(group3w.gt_boxes[group3w.absent]).all()
    assert np.isfinite(group3w.gt_boxes[~group3w.absent]).all()
    assert group3w.frames[80].shape == (720, 1280, 3)


@pytest.mark.data
def test_uav123_one_video_folder(shared_data):
    (sequence,) = read_uav123_10fps(shared_data / "uav123" / "data_seq" / "UAV123_10fps" / "group3w")
    assert (sequence.name, len(sequence)) == ("group3w", 81)


@pytest.mark.data
def test_uav123_reader_names_the_variant_that_is_there(shared_data):
    with pytest.raises(DatasetError, match=r"anno/UAV123 is missing.*UAV123_10fps \(reader 'uav123_10fps'\)"):
        read_uav123(shared_data / "uav123")


@pytest.mark.data
def test_load_dataset_on_real_specs(shared_data):
    assert [s.name for s in load_dataset(f"otb:{shared_data / 'otb'}")] == ["Couple", "Crossing", "Football1"]
    assert len(load_dataset(f"vot:{shared_data / 'vot' / 'bag'}")[0]) == 196
    uav = load_dataset(f"uav123_10fps:{shared_data / 'uav123'}")
    assert [s.benchmark for s in uav] == ["UAV123_10fps"] * 2


# ---------------------------------------------------------------------------------------------------------
# Annotation files.


def test_box_file_delimiters_nan_polygons_and_trailing_blank_lines(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,2\t3 4\n5 ,  6,7,8,\nNaN,NaN,NaN,NaN\n0,0,4,0,4,2,0,2\nnan\t1\t2\t3\n\n  \n")
    boxes = read_boxes(path)
    np.testing.assert_array_equal(boxes[:2], [[1, 2, 3, 4], [5, 6, 7, 8]])
    assert np.isnan(boxes[2]).all() and np.isnan(boxes[4]).all()
    np.testing.assert_array_equal(boxes[3], [0, 0, 4, 2])
    assert boxes.shape == (5, 4) and boxes.dtype == np.float64


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "groundtruth.txt"
    path.write_text("1,2,3,4\n1,2,3,4\n1,2,3\n")
    with pytest.raises(DatasetError, match=r"groundtruth\.txt line 3: expected 4 or 8 numbers, got 3"):
        read_boxes(path)
    path.write_text("1,2,3,4\n1,x2,3,4\n")
    with pytest.raises(DatasetError, match=r"groundtruth\.txt line 2: 'x2' is not a number"):
        read_boxes(path)
    path.write_text("1,2,3,4\n\n1,2,3,4\n")
    with pytest.raises(DatasetError, match=r"groundtruth\.txt line 2: blank line before the end"):
        read_boxes(path)


def test_flags_on_one_line_or_one_per_line(tmp_path):
    (tmp_path / "row.txt").write_text("0,1,1,0\n")
    (tmp_path / "column.label").write_text("0\n1\n1\n0\n")
    np.testing.assert_array_equal(read_flags(tmp_path / "row.txt"), [False, True, True, False])
    np.testing.assert_array_equal(read_flags(tmp_path / "column.label"), [False, True, True, False])
    (tmp_path / "bad.label").write_text("0\n2\n")
    with pytest.raises(DatasetError, match=r"bad\.label line 2: expected one of 0\.\.1, got 2"):
        read_flags(tmp_path / "bad.label")


# ---------------------------------------------------------------------------------------------------------
# OTB and VOT layouts and their errors.


def test_otb_two_targets_and_an_empty_annotation_file(tmp_path):
    write_frames(tmp_path / "Jogging" / "img", 3, pattern="{:04d}.jpg")
    write_boxes(tmp_path / "Jogging" / "groundtruth_rect.1.txt", 3, separator="\t")
    write_boxes(tmp_path / "Jogging" / "groundtruth_rect.2.txt", 3, first=(9, 9, 2, 2))
    write_frames(tmp_path / "Human4" / "img", 2, pattern="{:04d}.jpg")
    (tmp_path / "Human4" / "groundtruth_rect.1.txt").write_text("\n")
    write_boxes(tmp_path / "Human4" / "groundtruth_rect.2.txt", 2)
    sequences = read_otb(tmp_path)
    assert [s.name for s in sequences] == ["Human4", "Jogging.1", "Jogging.2"]
    np.testing.assert_array_equal(sequences[2].init_box, [9, 9, 2, 2])


def test_otb_frame_range_for_late_starting_boxes(tmp_path):
    write_frames(tmp_path / "David" / "img", 10, pattern="{:04d}.jpg")
    write_boxes(tmp_path / "David" / "groundtruth_rect.txt", 4)
    (sequence,) = read_otb(tmp_path / "David", frame_ranges={"David": (3, 6)})
    assert [Path(p).name for p in sequence.image_files] == ["0003.jpg", "0004.jpg", "0005.jpg", "0006.jpg"]
    assert sequence.attributes["frame_range"] == (3, 6)


def test_gap_in_frame_numbers_names_the_missing_file(tmp_path):
    paths = write_frames(tmp_path / "Seq" / "img", 5, pattern="{:04d}.jpg")
    write_boxes(tmp_path / "Seq" / "groundtruth_rect.txt", 5)
    paths[2].unlink()
    with pytest.raises(DatasetError, match=r"missing frame: .*Seq/img/0003\.jpg \(the numbering jumps"):
        read_otb(tmp_path / "Seq")


def test_missing_first_frame_is_named(tmp_path):
    paths = write_frames(tmp_path / "bag", 3)
    write_boxes(tmp_path / "bag" / "groundtruth.txt", 3)
    paths[0].unlink()
    with pytest.raises(DatasetError, match=r"missing frame: .*bag/00000001\.jpg"):
        read_vot(tmp_path / "bag")


def test_more_boxes_than_frames_names_file_and_line(tmp_path):
    write_frames(tmp_path / "Seq" / "img", 3, pattern="{:04d}.jpg")
    write_boxes(tmp_path / "Seq" / "groundtruth_rect.txt", 5)
    with pytest.raises(DatasetError, match=r"groundtruth_rect\.txt line 4: no frame for this row"):
        read_otb(tmp_path)


def test_vot_fewer_boxes_than_frames_is_an_error(tmp_path):
    write_frames(tmp_path / "bag", 4)
    write_boxes(tmp_path / "bag" / "groundtruth.txt", 3)
    with pytest.raises(DatasetError, match=r"groundtruth\.txt: 3 rows but 4 frames .*line 4 is missing"):
        read_vot(tmp_path / "bag")


def test_vot_color_subfolder_and_list_file(tmp_path):
    write_frames(tmp_path / "ants" / "color", 3)
    write_boxes(tmp_path / "ants" / "groundtruth.txt", 3)
    write_frames(tmp_path / "bag", 2)
    write_boxes(tmp_path / "bag" / "groundtruth.txt", 2)
    write_frames(tmp_path / "unlisted", 2)
    write_boxes(tmp_path / "unlisted" / "groundtruth.txt", 2)
    (tmp_path / "list.txt").write_text("bag\nants\n")
    assert [(s.name, len(s)) for s in read_vot(tmp_path)] == [("ants", 3), ("bag", 2)]


def test_unreadable_frame_fails_when_read_and_names_the_file(tmp_path):
    paths = write_frames(tmp_path / "bag", 3)
    write_boxes(tmp_path / "bag" / "groundtruth.txt", 3)
    paths[1].write_bytes(b"this is not a jpeg")
    (sequence,) = read_vot(tmp_path / "bag")  # frames are lazy: reading the folder succeeds
    assert sequence.frames[0].shape == (12, 16, 3)
    with pytest.raises(DatasetError, match=r"unreadable frame .*bag/00000002\.jpg"):
        sequence.frames[1]


# ---------------------------------------------------------------------------------------------------------
# GOT-10k and LaSOT.


def test_got10k_labels_meta_and_absent_boxes(tmp_path):
    boxes = make_got10k_sequence(
        tmp_path / "val" / "GOT-10k_Val_000002", 4, absence=[0, 0, 1, 0], cover=[8, 5, 0, 3]
    )
    make_got10k_sequence(tmp_path / "val" / "GOT-10k_Val_000001", 2, absence=[0, 0], cover=[8, 8])
    (tmp_path / "val" / "list.txt").write_text("GOT-10k_Val_000002\nGOT-10k_Val_000001\n")
    first, second = read_got10k(tmp_path)  # the root: split="val" by default
    assert (first.name, second.name) == ("GOT-10k_Val_000001", "GOT-10k_Val_000002")
    assert second.benchmark == "GOT-10k"
    np.testing.assert_array_equal(second.absent, [False, False, True, False])
    assert np.isnan(second.gt_boxes[2]).all()
    np.testing.assert_array_equal(second.gt_boxes[[0, 1, 3]], boxes[[0, 1, 3]])
    np.testing.assert_array_equal(second.attributes["cover"], [8, 5, 0, 3])
    assert second.attributes["meta"]["object_class"] == "ichneumon"
    assert second.attributes["meta"]["url"] == "https://youtu.be/x"
    assert [s.name for s in read_got10k(tmp_path / "val")] == [first.name, second.name]
    assert len(read_got10k(tmp_path / "val" / "GOT-10k_Val_000002")) == 1


def test_got10k_fully_covered_frames_are_absent_as_the_toolkit_scores_them(tmp_path):
    make_got10k_sequence(tmp_path / "val" / "a", 4, absence=[0, 0, 0, 0], cover=[8, 0, 5, 5])
    (sequence,) = read_got10k(tmp_path / "val" / "a")
    np.testing.assert_array_equal(sequence.absent, [False, True, False, False])
    assert np.isnan(sequence.gt_boxes[1]).all()


def test_got10k_test_split_has_only_the_first_box(tmp_path):
    folder = tmp_path / "test" / "GOT-10k_Test_000001"
    write_frames(folder, 5)
    (folder / "groundtruth.txt").write_text("3,4,5,6\n")
    (tmp_path / "test" / "list.txt").write_text("GOT-10k_Test_000001\n")
    (sequence,) = read_got10k(tmp_path, split="test")
    assert len(sequence) == 5 and sequence.attributes["first_box_only"]
    np.testing.assert_array_equal(sequence.init_box, [3, 4, 5, 6])
    assert np.isnan(sequence.gt_boxes[1:]).all() and not sequence.absent.any()


def test_got10k_bad_cover_level_and_missing_listed_sequence(tmp_path):
    make_got10k_sequence(tmp_path / "val" / "a", 3, absence=[0, 0, 0], cover=[8, 9, 8])
    (tmp_path / "val" / "list.txt").write_text("a\n")
    with pytest.raises(DatasetError, match=r"cover\.label line 2: expected one of 0\.\.8, got 9"):
        read_got10k(tmp_path / "val")
    (tmp_path / "val" / "list.txt").write_text("a\nb\n")
    with pytest.raises(DatasetError, match=r"sequence b of .*list\.txt is missing"):
        read_got10k(tmp_path, split="val")
    with pytest.raises(DatasetError, match=r"unknown GOT-10k split 'dev'"):
        read_got10k(tmp_path, split="dev")


def make_lasot_sequence(folder: Path, occlusion: str, out_of_view: str) -> None:
    write_frames(folder / "img", 4)
    write_boxes(folder / "groundtruth.txt", 4)
    (folder / "full_occlusion.txt").write_text(occlusion)
    (folder / "out_of_view.txt").write_text(out_of_view)


def test_lasot_absent_is_occlusion_or_out_of_view(tmp_path):
    make_lasot_sequence(tmp_path / "cat" / "cat-2", "0,1,0,0\n", "0,0,0,1")
    make_lasot_sequence(tmp_path / "airplane" / "airplane-1", "0,0,0,0", "0,0,0,0")
    (tmp_path / "cat" / "cat-2" / "nlp.txt").write_text("white cat on a sofa\n")
    airplane, cat = read_lasot(tmp_path)
    assert (airplane.name, cat.name, cat.benchmark) == ("airplane-1", "cat-2", "LaSOT")
    np.testing.assert_array_equal(cat.absent, [False, True, False, True])
    assert np.isnan(cat.gt_boxes[[1, 3]]).all() and np.isfinite(cat.gt_boxes[[0, 2]]).all()
    assert cat.attributes["description"] == "white cat on a sofa"
    assert [s.name for s in read_lasot(tmp_path / "cat")] == ["cat-2"]
    assert [s.name for s in read_lasot(tmp_path / "cat" / "cat-2")] == ["cat-2"]


def test_lasot_flag_count_mismatch(tmp_path):
    make_lasot_sequence(tmp_path / "cat-1", "0,0,0", "0,0,0,0")
    with pytest.raises(DatasetError, match=r"full_occlusion\.txt: 3 flags but 4 frames"):
        read_lasot(tmp_path / "cat-1")


# ---------------------------------------------------------------------------------------------------------
# UAV123 sub-sequences.


def test_uav123_sub_sequences_from_frame_ranges(tmp_path):
    make_uav123_group(tmp_path)
    first, second = read_uav123(tmp_path, frame_ranges={"group3_1": (1, 4), "group3_2": (5, 10)})
    assert (first.name, len(first), second.name, len(second)) == ("group3_1", 4, "group3_2", 6)
    assert [Path(p).name for p in second.image_files][:2] == ["000005.jpg", "000006.jpg"]
    assert second.attributes == {"video": "group3", "frame_range": (5, 10)}
    assert second.benchmark == "UAV123"


def test_uav123_sub_sequences_from_config_seqs(tmp_path):
    make_uav123_group(tmp_path, config=CONFIG_SEQS)
    ranges = read_config_seqs(tmp_path / "configSeqs.m")
    assert ranges["group3_1"][:3] == ("group3", 1, 4)  # the commented-out entry does not count
    assert [len(s) for s in read_uav123(tmp_path)] == [4, 6]
    moved = tmp_path / "configSeqs.m"
    config_path = moved.rename(tmp_path / "elsewhere.m")
    assert [len(s) for s in read_uav123(tmp_path, config_path=config_path)] == [4, 6]
    assert len(read_uav123(tmp_path / "data_seq" / "UAV123" / "group3", config_path=config_path)) == 2


def test_uav123_sub_sequence_without_range_is_an_error(tmp_path):
    make_uav123_group(tmp_path)
    message = r"group3_1\.txt annotates part of video folder .*/group3: a frame range is needed \(put"
    with pytest.raises(DatasetError, match=message):
        read_uav123(tmp_path)


def test_uav123_range_wider_than_the_annotation(tmp_path):
    make_uav123_group(tmp_path)
    with pytest.raises(DatasetError, match=r"group3_1\.txt: 4 rows but 5 frames in .*group3 frames 1\.\.5"):
        read_uav123(tmp_path, frame_ranges={"group3_1": (1, 5), "group3_2": (5, 10)})


# ---------------------------------------------------------------------------------------------------------
# Plain image folders and video files.


def test_image_folder_with_initial_box_only(tmp_path):
    folder = tmp_path / "walk"
    folder.mkdir()
    for number in (8, 9, 10):  # unpadded: 10 must come after 9
        image = np.zeros((8, 8, 3), np.uint8)
        image[..., 0] = 255  # pure blue in BGR
        cv2.imwrite(str(folder / f"frame{number}.png"), image)
    (folder / "init.txt").write_text("1 1 4 4\n")
    (sequence,) = read_image_folder(folder)
    assert (sequence.name, sequence.benchmark, len(sequence)) == ("walk", "custom", 3)
    assert [Path(p).name for p in sequence.image_files] == ["frame8.png", "frame9.png", "frame10.png"]
    assert np.isnan(sequence.gt_boxes[1:]).all() and not sequence.absent.any()
    np.testing.assert_array_equal(sequence.frames[2][0, 0], [0, 0, 255])  # RGB: blue is last


def test_image_folder_box_file_option_and_ambiguous_default(tmp_path):
    write_frames(tmp_path / "clip", 3, pattern="{:03d}.bmp")
    boxes = write_boxes(tmp_path / "clip" / "boxes.txt", 3)
    (tmp_path / "clip" / "notes.txt").write_text("filmed on a phone\n")
    with pytest.raises(DatasetError, match=r"several candidate box files .*boxes\.txt, notes\.txt"):
        read_image_folder(tmp_path / "clip")
    (sequence,) = load_dataset(f"folder:{tmp_path}", box_file="boxes.txt")
    np.testing.assert_array_equal(sequence.gt_boxes, boxes)


def write_video(path: Path, count: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 24))
    assert writer.isOpened()
    for number in range(count):
        writer.write(np.full((24, 32, 3), 20 * number, np.uint8))
    writer.release()


def test_video_file_with_init_box(tmp_path):
    write_video(tmp_path / "clip.mp4", 5)
    (sequence,) = read_video_file(tmp_path / "clip.mp4", init_box=(4, 5, 10, 8))
    assert (sequence.name, sequence.benchmark, len(sequence)) == ("clip", "custom", 5)
    assert isinstance(sequence.frames, VideoFileFrames)
    np.testing.assert_array_equal(sequence.init_box, [4, 5, 10, 8])
    assert np.isnan(sequence.gt_boxes[1:]).all() and not sequence.absent.any()
    assert sequence.frames[4].shape == (24, 32, 3) and sequence.frames[4].dtype == np.uint8


def test_video_box_from_same_named_text_file(tmp_path):
    write_video(tmp_path / "clip.avi", 3)
    (tmp_path / "clip.txt").write_text("1,2,3,4\n")
    (sequence,) = load_dataset(f"video:{tmp_path}")
    assert (sequence.name, len(sequence)) == ("clip", 3)
    np.testing.assert_array_equal(sequence.init_box, [1, 2, 3, 4])


def test_video_without_initial_box_says_to_pass_one(tmp_path):
    write_video(tmp_path / "clip.mp4", 2)
    with pytest.raises(DatasetError, match=r"no initial box for video .*clip\.mp4: pass an initial box"):
        read_video_file(tmp_path / "clip.mp4")


# ---------------------------------------------------------------------------------------------------------
# Specs and the reader registry.


def test_every_reader_is_registered():
    assert set(READERS) >= {"otb", "vot", "uav123", "uav123_10fps", "got10k", "lasot", "folder", "video"}


def test_unknown_reader_lists_the_known_ones():
    with pytest.raises(DatasetError, match=r"unknown dataset reader 'imagenet'.*known readers: .*got10k, "):
        load_dataset("imagenet:/data")


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match=rf"path does not exist: {re.escape(str(missing))}"):
        load_dataset(f"lasot:{missing}")


def test_spec_without_colon_explains_the_format():
    with pytest.raises(DatasetError, match=r"no ':'.*'<reader>:<path>'"):
        load_dataset("../shared/data/otb")


def test_registered_reader_gets_the_path_text_and_options(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setitem(READERS, "fake", lambda path, **options: calls.append((path, options)) or [])
    assert load_dataset("fake:anything:at all", size=3) == []
    assert calls == [("anything:at all", {"size": 3})]
    with pytest.raises(ValueError, match="already registered"):
        register_reader("fake", lambda path: [])
    register_reader("fake", lambda path: ["replaced"], replace=True)
    assert load_dataset("fake:x") == ["replaced"]
    with pytest.raises(ValueError, match="contain no ':'"):
        register_reader("a:b", lambda path: [])


def test_sequences_keep_image_paths_for_the_toolkit(tmp_path):
    write_frames(tmp_path / "bag", 2)
    write_boxes(tmp_path / "bag" / "groundtruth.txt", 2)
    (sequence,) = read_vot(tmp_path)
    assert isinstance(sequence.frames, ImageFiles)
    assert sequence.image_files == [str(tmp_path / "bag" / f"0000000{n}.jpg") for n in (1, 2)]


def test_video_init_box_must_be_four_numbers(tmp_path):
    write_video(tmp_path / "clip.mp4", 2)
    with pytest.raises(DatasetError, match=r"init_box must be 4 numbers"):
        read_video_file(tmp_path / "clip.mp4", init_box=(1, 2, 3))
