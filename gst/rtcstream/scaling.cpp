// SPDX-License-Identifier: LGPL-2.1-or-later
#include "scaling.h"

#include <algorithm>
#include <cmath>

namespace rtcstream {

namespace {

// Width and height factors of the steps, and the smallest width kept.
constexpr double kFactors[] = {1.0, 2.0 / 3, 1.0 / 2, 1.0 / 3, 1.0 / 4};
constexpr int kMinWidth = 160;
constexpr double kMinBitsPerPixel = 0.03;  // per frame
constexpr double kMinFrameBits = 5000;
// The frame rate's step at the smallest size, and the least rate it makes.
constexpr int kFrameRateDivisor = 2;
constexpr double kMinSteppedFps = 5;
constexpr double kOvershoot = 1.3;
constexpr double kMinFrameShare = 0.85;
// What a step that dropped frames needs is read as its bitrate over the
// share of frames kept, that share taken as at least this: a second in
// which the encoder kept almost nothing says it starved, not by how much.
// (VP8, right after a step from 15 to 30 fps at 190-320 kbit/s, put out 7%
// of the frames for three seconds; read as 1/0.2 of its bitrate, the 30 fps
// step "needed" 1.6 Mbit/s, and with max-bitrate 2 Mbit/s the picture
// stayed at 15 fps for the 45 s that netsim's thin-link check waits.)
constexpr double kMinShareForNeed = 0.5;
constexpr unsigned kOvershootUpdates = 2;
constexpr double kUpMargin = 1.25;
constexpr int64_t kDownIntervalUs = 2000000;
constexpr int64_t kUpIntervalUs = 3000000, kMaxUpIntervalUs = 48000000;
constexpr int64_t kProbeUs = 10000000;  // a step down this soon after a step up: it failed
constexpr double kNeedFading = 0.998;  // per update: halves in ~6 min
// An update this soon after a change says nothing of the new step: its
// second mixes frames of both (the caller counts a second's frames at the
// new frame rate's divisor), and the resize's keyframe.
constexpr int64_t kSettleUs = 1500000;

int
even (double v)
{
  return std::max (2, (int) std::lround (v / 2) * 2);
}

}  // namespace

EncoderScaler::EncoderScaler (int width, int height, double fps)
    : fps_ (fps > 0 ? fps : 30), up_interval_us_ (kUpIntervalUs)
{
  for (double f : kFactors) {
    int w = f == 1.0 ? width : even (width * f);
    int h = f == 1.0 ? height : even (height * f);
    if (!steps_.empty () && w < kMinWidth)
      break;
    steps_.push_back ({{w, h}, 1});
  }
  if (fps > 0 && fps / kFrameRateDivisor >= kMinSteppedFps)
    steps_.push_back ({steps_.back ().size, kFrameRateDivisor});
  need_bps_.assign (steps_.size (), 0);
}

uint32_t
EncoderScaler::floor_bps (size_t step) const
{
  const Step &s = steps_[std::min (step, steps_.size () - 1)];
  double fps = fps_ / s.divisor;
  return (uint32_t) (std::max (kMinBitsPerPixel * s.size.width * s.size.height, kMinFrameBits) *
      fps);
}

bool
EncoderScaler::start (const std::vector<double> &needs, double age_s, uint32_t target_bps,
    int64_t now_us)
{
  if (needs.size () == need_bps_.size ()) {
    const double fade = std::pow (kNeedFading, std::max (age_s, 0.0));
    for (size_t i = 0; i < needs.size (); i++)
      need_bps_[i] = std::max (need_bps_[i], needs[i] * fade);
  }
  size_t step = 0;
  while (step + 1 < steps_.size () &&
      target_bps < std::max<double> (floor_bps (step), need_bps_[step]))
    step++;
  if (step == step_)
    return false;
  step_ = step;
  last_change_us_ = now_us;
  return true;
}

bool
EncoderScaler::update (uint32_t target_bps, uint32_t output_bps, double frame_share,
    int64_t now_us)
{
  for (double &n : need_bps_)
    n *= kNeedFading;
  // After a step from 15 to 30 fps the first second's frames, counted at
  // the new rate, were half of what was expected: taken as frames dropped
  // (two seconds of it under load), the step up failed and the picture
  // stepped down again, having learnt a need of twice the bitrate, which
  // kept it at 15 fps for minutes on a link with ten times what 30 fps
  // needs (netsim's thin-link check, once the cap was lifted).
  const bool settling = last_change_us_ >= 0 && now_us - last_change_us_ < kSettleUs;
  bool over = !settling && output_bps > kOvershoot * target_bps;
  bool dropping = !settling && frame_share < kMinFrameShare;
  over_count_ = over || dropping ? over_count_ + 1 : 0;
  // What this size needs, as far as the encoder showed: more than it was
  // given, for two updates in a row (the less of the two: a single second's
  // burst, keyframes after a resize, says little).
  if (over && last_over_bps_ > 0)
    need_bps_[step_] = std::max (need_bps_[step_], (double) std::min (output_bps, last_over_bps_));
  last_over_bps_ = over ? output_bps : 0;
  if (dropping)
    need_bps_[step_] =
        std::max (need_bps_[step_], target_bps / std::max (frame_share, kMinShareForNeed));
  // A step up that held for kProbeUs: the next one may come soon.
  if (last_up_us_ >= 0 && now_us - last_up_us_ >= kProbeUs) {
    last_up_us_ = -1;
    up_interval_us_ = kUpIntervalUs;
  }
  bool may_change_down = last_change_us_ < 0 || now_us - last_change_us_ >= kDownIntervalUs;
  bool may_change_up = last_change_us_ < 0 || now_us - last_change_us_ >= up_interval_us_;

  if (step_ + 1 < steps_.size () && may_change_down &&
      (target_bps < floor_bps (step_) || over_count_ >= kOvershootUpdates)) {
    step_++;
    over_count_ = 0;
    last_change_us_ = now_us;
    if (last_up_us_ >= 0) {  // the step up failed: wait longer before the next
      up_interval_us_ = std::min (2 * up_interval_us_, kMaxUpIntervalUs);
      last_up_us_ = -1;
    }
    return true;
  }
  if (step_ > 0 && may_change_up && over_count_ == 0 &&
      target_bps >= kUpMargin * std::max<double> (floor_bps (step_ - 1), need_bps_[step_ - 1])) {
    step_--;
    last_change_us_ = last_up_us_ = now_us;
    return true;
  }
  return false;
}

}  // namespace rtcstream
