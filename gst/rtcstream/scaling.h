// SPDX-License-Identifier: LGPL-2.1-or-later
//
// EncoderScaler: the picture size a video encoder should be fed at a given
// bitrate. A pure class (no GStreamer; the caller passes the time), so that
// tests can drive it.
//
// A bitrate too low for a picture size makes an encoder blur it to mush,
// drop frames (VP8 told to keep its bitrate: see set_encoder_frame_dropping)
// or, at its coarsest quantizer, overshoot the bitrate (a noisy 720p picture
// needs ~2 Mbit/s in VP8 whatever it is told), which fills the link and
// freezes the stream. So the picture steps down, through 2/3, 1/2, 1/3 and
// 1/4 of the input's width and height, when
//   - the bitrate is below the size's floor (0.03 bit per pixel and frame;
//     720p at 30 fps: 830 kbit/s), or
//   - for 2 seconds in a row the encoder dropped frames (put out less than
//     85% of them) or put out more than 1.3 times its bitrate: the content
//     needs more at that size than it is given;
// and steps up again, at most every 10 s, once the bitrate is 1.25 times
// what the bigger size needs: its floor, or what the encoder showed it
// needed there (the most it put out when it overshot, or its bitrate over
// the share of frames it kept when it dropped some), a memory that fades by
// half in about 6 minutes, as content changes. Downward steps wait at least
// 2 s apart: each size change costs a keyframe.
//
// Not thread-safe: the owner serialises calls (the sink's worker).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rtcstream {

class EncoderScaler {
public:
  struct Size {
    int width, height;
  };

  // The input's size and frame rate (frames per second, > 0).
  EncoderScaler (int width, int height, double fps);

  // Once a second: the bitrate the encoder is set to, what it put out over
  // the last second (0 when unknown) and the share of the input's frames it
  // put out (1 when all, or unknown). True when the size changed.
  bool update (uint32_t target_bps, uint32_t output_bps, double frame_share, int64_t now_us);

  Size size () const { return steps_[step_]; }
  size_t step () const { return step_; }
  size_t steps () const { return steps_.size (); }
  // The least bitrate for a step's size.
  uint32_t floor_bps (size_t step) const;

private:
  std::vector<Size> steps_;  // [0] is the input's size
  std::vector<double> need_bps_;  // per step: what the encoder showed it needed
  double fps_;
  size_t step_ = 0;
  unsigned over_count_ = 0;  // consecutive updates with the encoder short of bits
  int64_t last_change_us_ = -1;
};

}  // namespace rtcstream
