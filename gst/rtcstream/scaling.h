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
// 1/4 of the input's width and height, and then, at the smallest size, to
// half the input's frame rate (30 -> 15 fps: a picture that small at a
// bitrate too low for it at the full rate is mush at any size), when
//   - the bitrate is below the step's floor (0.03 bit per pixel and frame,
//     and at least 5000 bits a frame, a picture's least useful size: 720p
//     at 30 fps needs 830 kbit/s, any size at 30 fps 150 kbit/s, at 15 fps
//     75 kbit/s), or
//   - for 2 seconds in a row the encoder dropped frames (put out less than
//     85% of them) or put out more than 1.3 times its bitrate: the content
//     needs more at that size than it is given;
// and steps up again once the bitrate is 1.25 times what the bigger size
// needs: its floor, or what the encoder showed it needed there (the most it
// put out over two seconds in a row when it overshot, or its bitrate over
// the share of frames it kept when it dropped some: at most twice its
// bitrate, as a starved encoder keeps next to nothing), a memory that fades by
// half in about 6 minutes, as content changes. Steps up wait 3 s apart while they hold: a sender whose
// picture shrank sends less than its link allows, and its estimate grows
// only with what it sends (see bandwidth.h), so a link that got faster is
// found one step at a time. A step up that fails (a step down follows
// within 10 s) doubles that wait, up to 48 s, until a step up holds again.
// Downward steps wait at least 2 s apart: each size change costs a keyframe.
// The first update after a change counts neither overshoot nor dropped
// frames: its second mixes the old step's frames with the new one's.
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

  // The input's size and frame rate (frames per second; <= 0: unknown, then
  // taken as 30 and not stepped down).
  EncoderScaler (int width, int height, double fps);

  // Once a second: the bitrate the encoder is set to, what it put out over
  // the last second (0 when unknown) and the share of the input's frames it
  // put out (1 when all, or unknown). True when the size changed.
  bool update (uint32_t target_bps, uint32_t output_bps, double frame_share, int64_t now_us);

  Size size () const { return steps_[step_].size; }
  // The share of the input's frames kept at this step: 1 in divisor().
  int divisor () const { return steps_[step_].divisor; }
  double fps () const { return fps_ / divisor (); }
  size_t step () const { return step_; }
  size_t steps () const { return steps_.size (); }
  // The least bitrate for a step's size.
  uint32_t floor_bps (size_t step) const;

  // What the encoder showed each step needs (bit/s per step, 0 where it
  // showed nothing), faded as update () fades it. The content, not the
  // viewer, decides it: the sink keeps it for the next scaler of the same
  // input, codec and size (another viewer's encoder).
  const std::vector<double> &needs () const { return need_bps_; }
  // Called once, before the first update: takes what an earlier scaler of
  // the same input learnt (needs (), age_s seconds ago; ignored unless it
  // has one entry a step) and starts at the biggest step that target_bps
  // carries (its floor and its learnt need, as a step down judges), so that
  // a new viewer's encoder does not spend seconds dropping frames to learn
  // it again. True when that is not the input's size; then the first
  // update after now_us counts nothing, as after any change.
  bool start (const std::vector<double> &needs, double age_s, uint32_t target_bps,
      int64_t now_us);

private:
  struct Step {
    Size size;
    int divisor;  // of the frame rate
  };
  std::vector<Step> steps_;  // [0] is the input's size and rate
  std::vector<double> need_bps_;  // per step: what the encoder showed it needed
  double fps_;
  size_t step_ = 0;
  unsigned over_count_ = 0;  // consecutive updates with the encoder short of bits
  uint32_t last_over_bps_ = 0;  // the output of the last update, if it was over
  int64_t last_change_us_ = -1;
  int64_t last_up_us_ = -1;  // the last step up, while it may still fail
  int64_t up_interval_us_;   // the least time between a change and a step up
};

}  // namespace rtcstream
