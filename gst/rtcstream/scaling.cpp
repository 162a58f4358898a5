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
constexpr double kOvershoot = 1.3;
constexpr double kMinFrameShare = 0.85;
constexpr unsigned kOvershootUpdates = 2;
constexpr double kUpMargin = 1.25;
constexpr int64_t kDownIntervalUs = 2000000, kUpIntervalUs = 10000000;
constexpr double kNeedFading = 0.998;  // per update: halves in ~6 min

int
even (double v)
{
  return std::max (2, (int) std::lround (v / 2) * 2);
}

}  // namespace

EncoderScaler::EncoderScaler (int width, int height, double fps) : fps_ (fps > 0 ? fps : 30)
{
  for (double f : kFactors) {
    int w = f == 1.0 ? width : even (width * f);
    int h = f == 1.0 ? height : even (height * f);
    if (!steps_.empty () && w < kMinWidth)
      break;
    steps_.push_back ({w, h});
  }
  need_bps_.assign (steps_.size (), 0);
}

uint32_t
EncoderScaler::floor_bps (size_t step) const
{
  const Size &s = steps_[std::min (step, steps_.size () - 1)];
  return (uint32_t) (kMinBitsPerPixel * s.width * s.height * fps_);
}

bool
EncoderScaler::update (uint32_t target_bps, uint32_t output_bps, double frame_share,
    int64_t now_us)
{
  for (double &n : need_bps_)
    n *= kNeedFading;
  bool over = output_bps > kOvershoot * target_bps;
  bool dropping = frame_share < kMinFrameShare;
  over_count_ = over || dropping ? over_count_ + 1 : 0;
  // What this size needs, as far as the encoder showed: more than it was given.
  if (over)
    need_bps_[step_] = std::max (need_bps_[step_], (double) output_bps);
  if (dropping)
    need_bps_[step_] = std::max (need_bps_[step_], target_bps / std::max (frame_share, 0.2));
  bool may_change_down = last_change_us_ < 0 || now_us - last_change_us_ >= kDownIntervalUs;
  bool may_change_up = last_change_us_ < 0 || now_us - last_change_us_ >= kUpIntervalUs;

  if (step_ + 1 < steps_.size () && may_change_down &&
      (target_bps < floor_bps (step_) || over_count_ >= kOvershootUpdates)) {
    step_++;
    over_count_ = 0;
    last_change_us_ = now_us;
    return true;
  }
  if (step_ > 0 && may_change_up && over_count_ == 0 &&
      target_bps >= kUpMargin * std::max<double> (floor_bps (step_ - 1), need_bps_[step_ - 1])) {
    step_--;
    last_change_us_ = now_us;
    return true;
  }
  return false;
}

}  // namespace rtcstream
