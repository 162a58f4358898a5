// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsink's encoder groups: one per input and codec, shared by every
// consumer that receives that codec (DESIGN: encode once where consumers
// agree). A group of encoded input only parses it. Keyframe requests from
// the consumers' payloaders meet at the group's tee, where they are merged.
#include "sink-private.h"

#include <gst/video/video.h>

#include <algorithm>
#include <mutex>

namespace rtcstream::sink {

namespace {

// Keyframe requests closer together than this are merged into one.
constexpr gint64 kKeyframeMinIntervalUs = 200 * 1000;
// On a link whose estimate is known, keyframes may take at most this share
// of it (a receiver that lost a keyframe asks again at once: without this,
// keyframes alone fill a thin link), and wait at most this long.
constexpr double kKeyframeShare = 0.5;
constexpr gint64 kKeyframeMaxIntervalUs = 5 * G_USEC_PER_SEC;
// A request that no keyframe answered is sent again after this long (or
// the group's keyframe interval, if longer), until one comes or for at
// most kKeyframeGiveUpUs. Requests get lost (RTCP on a lossy link) or
// ignored: Chromium drops a FIR or PLI that comes within 300 ms of the last
// one it acted on, so a relayed browser stream would leave a viewer that
// joined just after another without a picture.
constexpr gint64 kKeyframeRetryUs = 500 * 1000;
constexpr gint64 kKeyframeGiveUpUs = 10 * G_USEC_PER_SEC;

// The least time between two keyframes of group: 200 ms, or longer when
// its last keyframe would take more than half its consumer's estimate.
gint64
keyframe_interval_us (const EncoderGroup *group)
{
  guint budget = group->keyframe_budget_bps.load ();
  guint bits = group->keyframe_bits.load ();
  if (!budget || !bits)
    return kKeyframeMinIntervalUs;
  gint64 us = (gint64) (bits / (kKeyframeShare * budget) * G_USEC_PER_SEC);
  return std::clamp (us, kKeyframeMinIntervalUs, kKeyframeMaxIntervalUs);
}

// Streaming thread (the encoder's): counts what the encoder puts out and
// remembers the size of keyframes.
GstPadProbeReturn
measure_encoded (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *group = static_cast<EncoderGroup *> (data);
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  gsize size = gst_buffer_get_size (buf);
  group->encoded_bytes += size;
  group->encoded_frames++;
  if (group->recent)
    group->recent->add (buf);
  if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
    group->keyframe_bits.store ((guint) std::min<gsize> (size * 8, G_MAXUINT));
    group->keyframe_wanted_since.store (0);
  }
  return GST_PAD_PROBE_OK;
}

}  // namespace

// --- the frames since the last keyframe ------------------------------------------

void
RecentFrames::set_encoded (bool encoded)
{
  std::lock_guard<std::mutex> lk (lock_);
  encoded_ = encoded;
  if (!encoded)
    clear ();
}

void
RecentFrames::clear ()
{
  for (GstBuffer *b : frames_)
    gst_buffer_unref (b);
  frames_.clear ();
  bytes_ = 0;
}

void
RecentFrames::add (GstBuffer *buf)
{
  std::lock_guard<std::mutex> lk (lock_);
  if (!encoded_)
    return;
  const bool key = !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  if (key)
    clear ();
  else if (frames_.empty ())
    return;
  const gsize size = gst_buffer_get_size (buf);
  if (!GST_BUFFER_PTS_IS_VALID (buf) || frames_.size () >= kMaxFrames ||
      bytes_ + size > kMaxBytes) {
    clear ();  // too long since the keyframe to be worth replaying
    return;
  }
  frames_.push_back (gst_buffer_ref (buf));
  bytes_ += size;
}

std::vector<GstBuffer *>
RecentFrames::replay_before (GstClockTime live_pts)
{
  std::vector<GstBuffer *> out;
  std::lock_guard<std::mutex> lk (lock_);
  // 100 us: 9 ticks of the 90 kHz RTP clock, and 150 frames within 15 ms.
  const GstClockTime step = 100 * GST_USECOND;
  if (!GST_CLOCK_TIME_IS_VALID (live_pts))
    return out;
  // The live frame itself went through the input first: it is not replayed.
  size_t n = 0;
  while (n < frames_.size () && GST_BUFFER_PTS (frames_[n]) < live_pts)
    n++;
  if (n == 0 || live_pts < (n + 1) * step)
    return out;
  for (size_t i = 0; i < n; i++)
    if (GST_BUFFER_DTS_IS_VALID (frames_[i]) &&
        GST_BUFFER_DTS (frames_[i]) != GST_BUFFER_PTS (frames_[i]))
      return out;  // reordered frames: retiming them would break their order
  // Retimed to follow each other closely: at their own pace the viewer's
  // jitterbuffer would play them out, and keep the delay, over as long as
  // they took to come.
  GstClockTime pts = live_pts - n * step;
  for (size_t i = 0; i < n; i++) {
    GstBuffer *b = frames_[i];
    GstBuffer *copy = gst_buffer_copy (b);
    GST_BUFFER_PTS (copy) = pts;
    GST_BUFFER_DTS (copy) = GST_BUFFER_DTS_IS_VALID (b) ? pts : GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION (copy) = step;
    out.push_back (copy);
    pts += step;
  }
  return out;
}

namespace {

// Set on a pad while a replay waits for its next frame (object lock).
GQuark
replay_pending_quark ()
{
  static GQuark q = g_quark_from_static_string ("rtcstream-replay-pending");
  return q;
}

// Streaming thread: see replay_recent_frames.
GstPadProbeReturn
replay_before_first (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto &recent = *static_cast<std::shared_ptr<RecentFrames> *> (data);
  GstBuffer *live = GST_PAD_PROBE_INFO_BUFFER (info);
  GST_OBJECT_LOCK (pad);
  g_object_set_qdata (G_OBJECT (pad), replay_pending_quark (), nullptr);
  GST_OBJECT_UNLOCK (pad);
  if (!GST_BUFFER_FLAG_IS_SET (live, GST_BUFFER_FLAG_DELTA_UNIT))
    return GST_PAD_PROBE_REMOVE;
  std::vector<GstBuffer *> frames = recent->replay_before (GST_BUFFER_PTS (live));
  GstPad *peer = gst_pad_get_peer (pad);
  if (peer && !frames.empty ())
    GST_DEBUG_OBJECT (pad, "starting with the %zu frames since the last keyframe",
        frames.size ());
  for (GstBuffer *b : frames) {
    if (peer)
      gst_pad_chain (peer, b);
    else
      gst_buffer_unref (b);
  }
  if (peer)
    gst_object_unref (peer);
  return GST_PAD_PROBE_REMOVE;
}

}  // namespace

void
replay_recent_frames (GstPad *pad, const std::shared_ptr<RecentFrames> &recent)
{
  GST_OBJECT_LOCK (pad);
  const bool pending = g_object_get_qdata (G_OBJECT (pad), replay_pending_quark ()) != nullptr;
  if (!pending)
    g_object_set_qdata (G_OBJECT (pad), replay_pending_quark (), GINT_TO_POINTER (1));
  GST_OBJECT_UNLOCK (pad);
  if (pending)
    return;  // one replay before the next frame is enough
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, replay_before_first,
      new std::shared_ptr<RecentFrames> (recent),
      [] (gpointer data) { delete static_cast<std::shared_ptr<RecentFrames> *> (data); });
}

void
replay_on_keyframe_requests (GstPad *pad, const std::shared_ptr<RecentFrames> &recent)
{
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
      [] (GstPad *p, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        if (gst_video_event_is_force_key_unit (GST_PAD_PROBE_INFO_EVENT (info)))
          replay_recent_frames (p, *static_cast<std::shared_ptr<RecentFrames> *> (data));
        return GST_PAD_PROBE_OK;  // and upstream, where the next keyframe comes from
      }, new std::shared_ptr<RecentFrames> (recent),
      [] (gpointer data) { delete static_cast<std::shared_ptr<RecentFrames> *> (data); });
}

namespace {

// Streaming thread (the encoder's input): at the scaler's frame rate step,
// lets 1 in frame_divisor frames through to the encoder, each lasting as
// long as the frames it stands for (libvpx's rate control reads the frame
// rate from the timestamps and durations: it spends the bits of the frames
// left out on the ones kept).
GstPadProbeReturn
thin_frame_rate (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *group = static_cast<EncoderGroup *> (data);
  const int divisor = group->frame_divisor.load ();
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  const GstClockTime pts = GST_BUFFER_PTS (buf), duration = GST_BUFFER_DURATION (buf);
  if (divisor <= 1 || !GST_CLOCK_TIME_IS_VALID (pts) || !GST_CLOCK_TIME_IS_VALID (duration) ||
      duration == 0) {
    group->next_frame_pts = GST_CLOCK_TIME_NONE;
    return GST_PAD_PROBE_OK;
  }
  GstClockTime &next = group->next_frame_pts;
  // Half a frame early still counts: a live source's timestamps jitter.
  if (GST_CLOCK_TIME_IS_VALID (next) && pts + duration / 2 < next && pts + 4 * duration > next)
    return GST_PAD_PROBE_DROP;
  const GstClockTime kept = divisor * duration;
  next = GST_CLOCK_TIME_IS_VALID (next) && pts < next + duration ? next + kept : pts + kept;
  buf = gst_buffer_make_writable (buf);
  GST_BUFFER_DURATION (buf) = kept;
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

// --- keyframe requests ---------------------------------------------------------

// Whether group is still one of self's (a worker callback may outlive it).
bool
group_alive (RtcstreamSink *self, EncoderGroup *group)
{
  State *st = self->state;
  std::lock_guard<std::mutex> lk (st->lock);
  return std::any_of (st->groups.begin (), st->groups.end (),
      [group] (const std::unique_ptr<EncoderGroup> &g) { return g.get () == group; });
}

// Worker thread: a keyframe request into the group's tee, where it meets
// the consumers' (limit_keyframe_requests).
void
push_keyframe_request (EncoderGroup *group)
{
  GstPad *tee_sink = gst_element_get_static_pad (group->tee, "sink");
  gst_pad_push_event (tee_sink,
      gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0));
  gst_object_unref (tee_sink);
}

// Worker thread: the request merged into the last one is sent now, so
// that a consumer that joined just after it still gets a keyframe it can
// use (with relayed input the first one may reach it before its session is
// up).
void
resend_keyframe_request (RtcstreamSink *self, EncoderGroup *group)
{
  if (!group_alive (self, group) || !group->trailing_request.exchange (false))
    return;
  GST_DEBUG_OBJECT (self, "sending the keyframe request merged earlier");
  push_keyframe_request (group);
}

void schedule_keyframe_check (EncoderGroup *group, gint64 delay_us);

// Worker thread: asks again if no keyframe came since the last request
// went upstream (see kKeyframeRetryUs).
void
check_keyframe_came (RtcstreamSink *self, EncoderGroup *group)
{
  if (!group_alive (self, group))
    return;
  group->keyframe_retry_due.store (false);
  gint64 since = group->keyframe_wanted_since.load ();
  if (!since)
    return;
  gint64 now = g_get_monotonic_time ();
  if (now - since > kKeyframeGiveUpUs) {
    GST_WARNING_OBJECT (self, "%s of %s: no keyframe came in %" G_GINT64_FORMAT
        " s of asking upstream; asking again only when a consumer does",
        group->codec->name, group->input->name.c_str (), kKeyframeGiveUpUs / G_USEC_PER_SEC);
    group->keyframe_wanted_since.store (0);
    return;
  }
  gint64 retry = std::max (kKeyframeRetryUs, keyframe_interval_us (group));
  gint64 wait = group->last_keyframe_request.load () + retry - now;
  if (wait > 0) {
    schedule_keyframe_check (group, wait);
    return;
  }
  GST_DEBUG_OBJECT (self, "%s of %s: no keyframe %" G_GINT64_FORMAT " ms after asking, asking again",
      group->codec->name, group->input->name.c_str (), (now - since) / 1000);
  push_keyframe_request (group);
}

// Any thread: check_keyframe_came after delay_us, unless a check is due.
void
schedule_keyframe_check (EncoderGroup *group, gint64 delay_us)
{
  if (group->keyframe_retry_due.exchange (true))
    return;
  RtcstreamSink *self = group->owner;
  Ref<RtcstreamSink> ref = Ref<RtcstreamSink>::take_ref (self);
  self->state->worker->post_delayed ((guint) (delay_us / 1000) + 1, [ref, group] {
    if (ref->state->started)
      check_keyframe_came (ref.get (), group);
  });
}

// Streaming or worker thread: keyframe requests from consumers closer than
// keyframe_interval_us become one request now and, if any came in between,
// one more at the end of the interval.
GstPadProbeReturn
limit_keyframe_requests (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *group = static_cast<EncoderGroup *> (data);
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (!gst_video_event_is_force_key_unit (ev))
    return GST_PAD_PROBE_OK;
  gint64 now = g_get_monotonic_time ();
  gint64 last = group->last_keyframe_request.load ();
  gint64 interval = keyframe_interval_us (group);
  if (now - last < interval) {
    GST_LOG ("merging keyframe request into one %" G_GINT64_FORMAT " us ago", now - last);
    if (!group->trailing_request.exchange (true)) {
      RtcstreamSink *self = group->owner;
      Ref<RtcstreamSink> ref = Ref<RtcstreamSink>::take_ref (self);
      guint delay_ms = (guint) ((interval - (now - last)) / 1000) + 1;
      self->state->worker->post_delayed (delay_ms, [ref, group] {
        if (ref->state->started)
          resend_keyframe_request (ref.get (), group);
      });
    }
    return GST_PAD_PROBE_DROP;
  }
  group->last_keyframe_request.store (now);
  group->trailing_request.store (false);
  GST_DEBUG_OBJECT (group->owner, "keyframe request for %s of %s goes upstream",
      group->codec->name, group->input->name.c_str ());
  if (group->codec->kind == MediaKind::Video) {
    gint64 none = 0;
    group->keyframe_wanted_since.compare_exchange_strong (none, now);
    schedule_keyframe_check (group, std::max (kKeyframeRetryUs, interval));
  }
  return GST_PAD_PROBE_OK;
}

}  // namespace

// --- helpers ------------------------------------------------------------------

GstElement *
make_element (const char *factory, const std::string &name)
{
  return gst_element_factory_make (factory, name.empty () ? nullptr : name.c_str ());
}

void
remove_elements (GstBin *bin, const std::vector<GstElement *> &elements)
{
  for (GstElement *e : elements) {
    gst_element_set_locked_state (e, TRUE);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_bin_remove (bin, e);
  }
}

void
request_keyframe (GstPad *pad)
{
  GstEvent *ev = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0);
  gst_pad_push_event (pad, ev);  // upstream, from a sink pad to its peer
}

std::vector<const Codec *>
candidate_codecs (const CommonSettings &s, const InputStream &in, GstCaps *caps)
{
  std::vector<const Codec *> out;
  if (const Codec *enc = codec_for_encoded_caps (caps)) {
    if (can_payload (*enc))
      out.push_back (enc);
    return out;
  }
  const auto &prefs = in.kind == MediaKind::Video ? s.video_codecs : s.audio_codecs;
  for (const Codec *c : prefs)
    if (can_encode (*c))
      out.push_back (c);
  return out;
}

// --- encoder groups ----------------------------------------------------------

namespace {

// The input's streaming thread: a prepared encoder's frames are dropped
// until a consumer takes it. Its stream's events pass (the pad sends them
// before the buffer probes run): the caps set the encoder up. Not even one
// picture goes through: libvpx takes the time between two pictures as the
// frame interval and budgets its next frame by it, so a picture given
// seconds before the consumer's first made that keyframe 4 times the size
// of a fresh encoder's (47 against 12 KB at 1280x720), a burst whose loss
// on a busy host delayed a first frame by 650 ms in ~1 run of 10.
GstPadProbeReturn
drop_unwatched_frames (GstPad *, GstPadProbeInfo *, gpointer)
{
  return GST_PAD_PROBE_DROP;
}

}  // namespace

// Worker thread. The group encoding input in codec, made on first use.
EncoderGroup *
get_group (RtcstreamSink *self, InputStream *in, const Codec *codec, std::string &error,
    size_t rendition, const Rendition *size, bool prepared)
{
  State *st = self->state;
  for (auto &g : st->groups)
    if (g->input == in && g->codec == codec && g->rendition == rendition)
      return g.get ();

  auto group = std::make_unique<EncoderGroup> ();
  group->owner = self;
  group->input = in;
  group->codec = codec;
  group->rendition = size ? rendition : 0;
  if (size)
    group->size = *size;
  GstCaps *caps;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    caps = in->caps ? gst_caps_ref (in->caps) : nullptr;
  }
  group->encodes = codec_for_encoded_caps (caps) == nullptr;
  if (!group->encodes && codec->kind == MediaKind::Video) {
    group->recent = std::make_shared<RecentFrames> ();
    group->recent->set_encoded (true);
  }
  if (caps)
    gst_caps_unref (caps);
  std::string base = in->name + "-" + codec->name;
  if (group->rendition)
    base += "-r" + std::to_string (group->rendition);
  std::vector<GstElement *> &els = group->elements;
  if (group->encodes) {
    // A leaky queue gives the encoder its own thread and drops frames
    // rather than building latency when the encoder falls behind.
    GstElement *q = make_element ("queue", base + "-queue");
    g_object_set (q, "max-size-buffers", 3u, "max-size-bytes", 0u, "max-size-time",
        (guint64) 0, nullptr);
    gst_util_set_object_arg (G_OBJECT (q), "leaky", "downstream");
    els.push_back (q);
    if (codec->kind == MediaKind::Video) {
      els.push_back (make_element ("videoconvert", base + "-convert"));
      // Scales down when the bitrate is too low for the input's size
      // (sink-congestion.cpp sets the size in the capsfilter after it).
      els.push_back (make_element ("videoscale", base + "-scale"));
    } else {
      els.push_back (make_element ("audioconvert", base + "-convert"));
      els.push_back (make_element ("audioresample", base + "-resample"));
    }
    GstElement *filter = make_element ("capsfilter", base + "-rawcaps");
    GstCaps *raw = encoder_input_caps (*codec);
    if (group->rendition)
      gst_caps_set_simple (raw, "width", G_TYPE_INT, size->width, "height", G_TYPE_INT,
          size->height, nullptr);
    g_object_set (filter, "caps", raw, nullptr);
    gst_caps_unref (raw);
    els.push_back (filter);
    group->raw_filter = filter;
    GstElement *enc = make_encoder (*codec, (base + "-encoder").c_str ());
    if (!enc) {
      error = std::string ("encoder ") + codec->encoder + " is missing";
      for (GstElement *e : els)
        gst_object_unref (e);
      return nullptr;
    }
    if (group->rendition) {
      set_encoder_bitrate (*codec, enc, size->bps);
    } else if (codec->kind == MediaKind::Video) {
      std::lock_guard<std::mutex> lk (st->lock);
      set_encoder_bitrate (*codec, enc, initial_video_bitrate (st->bitrates));
    }
    group->encoder = enc;
    if (codec->kind == MediaKind::Video) {
      GstPad *enc_sink = gst_element_get_static_pad (enc, "sink");
      gst_pad_add_probe (enc_sink, GST_PAD_PROBE_TYPE_BUFFER, thin_frame_rate, group.get (),
          nullptr);
      gst_object_unref (enc_sink);
    }
    els.push_back (enc);
  } else if (GstElement *parser = make_parser (*codec, (base + "-parse").c_str ())) {
    els.push_back (parser);
  }
  if (std::string (codec->name) == "H264") {
    // Byte-stream with in-band SPS/PPS: the payloader then does not put the
    // encoder's exact profile-level-id in its caps, which webrtcbin would
    // refuse when it differs from the negotiated one (level asymmetry is
    // allowed in the SDP, and decoders read the SPS anyway).
    GstElement *f = make_element ("capsfilter", base + "-h264caps");
    GstCaps *h = gst_caps_from_string (group->encodes
        ? "video/x-h264, profile=(string)constrained-baseline, stream-format=(string)byte-stream"
        : "video/x-h264, stream-format=(string)byte-stream, alignment=(string)au");
    g_object_set (f, "caps", h, nullptr);
    gst_caps_unref (h);
    els.push_back (f);
  }
  GstElement *tee = make_element ("tee", base + "-tee");
  g_object_set (tee, "allow-not-linked", TRUE, nullptr);
  els.push_back (tee);
  group->tee = tee;

  for (GstElement *e : els)
    gst_bin_add (GST_BIN (self), e);
  for (size_t i = 0; i + 1 < els.size (); i++) {
    if (!gst_element_link (els[i], els[i + 1])) {
      error = "could not link the " + std::string (codec->name) + " encoding chain";
      remove_elements (GST_BIN (self), els);
      return nullptr;
    }
  }
  GstPad *tee_sink = gst_element_get_static_pad (tee, "sink");
  gst_pad_add_probe (tee_sink, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, limit_keyframe_requests,
      group.get (), nullptr);
  if (codec->kind == MediaKind::Video)
    gst_pad_add_probe (tee_sink, GST_PAD_PROBE_TYPE_BUFFER, measure_encoded, group.get (),
        nullptr);
  gst_object_unref (tee_sink);
  for (auto it = els.rbegin (); it != els.rend (); ++it)
    gst_element_sync_state_with_parent (*it);

  group->input_tee_pad = gst_element_request_pad_simple (in->tee, "src_%u");
  if (prepared)  // before the link: no picture reaches it
    group->spare_probe = gst_pad_add_probe (group->input_tee_pad, GST_PAD_PROBE_TYPE_BUFFER,
        drop_unwatched_frames, nullptr, nullptr);
  GstPad *first_sink = gst_element_get_static_pad (els.front (), "sink");
  GstPadLinkReturn lr = gst_pad_link (group->input_tee_pad, first_sink);
  gst_object_unref (first_sink);
  if (lr != GST_PAD_LINK_OK) {
    error = "could not link the input to the " + std::string (codec->name) + " chain";
    gst_element_release_request_pad (in->tee, group->input_tee_pad);
    gst_object_unref (group->input_tee_pad);
    remove_elements (GST_BIN (self), els);
    return nullptr;
  }
  if (group->recent)
    replay_recent_frames (group->input_tee_pad, in->recent);
  if (group->rendition)
    GST_INFO_OBJECT (self, "encoding %s for %s, rendition %zu: %dx%d at %u bit/s", codec->name,
        in->name.c_str (), group->rendition, size->width, size->height, size->bps);
  else
    GST_INFO_OBJECT (self, "%s %s for %s", group->encodes ? "encoding" : "passing through",
        codec->name, in->name.c_str ());
  EncoderGroup *ret = group.get ();
  std::lock_guard<std::mutex> lk (st->lock);
  st->groups.push_back (std::move (group));
  return ret;
}

namespace {

// Worker thread: unlinks and removes group.
void
remove_group (RtcstreamSink *self, EncoderGroup *group)
{
  State *st = self->state;
  GstPad *first_sink = gst_element_get_static_pad (group->elements.front (), "sink");
  gst_pad_unlink (group->input_tee_pad, first_sink);
  gst_object_unref (first_sink);
  gst_element_release_request_pad (group->input->tee, group->input_tee_pad);
  gst_object_unref (group->input_tee_pad);
  remove_elements (GST_BIN (self), group->elements);
  std::lock_guard<std::mutex> lk (st->lock);
  st->groups.erase (std::remove_if (st->groups.begin (), st->groups.end (),
      [group] (const std::unique_ptr<EncoderGroup> &g) { return g.get () == group; }),
      st->groups.end ());
}

}  // namespace

void
release_group_if_unused (RtcstreamSink *self, EncoderGroup *group)
{
  if (group->consumers > 0 || group->reserved > 0 || group->spare_probe)
    return;
  GST_INFO_OBJECT (self, "no consumer uses %s for %s (rendition %zu) any more, removing it",
      group->codec->name, group->input->name.c_str (), group->rendition);
  remove_group (self, group);
  prepare_encoders (self);
}

void
use_group (EncoderGroup *group)
{
  if (!group->spare_probe)
    return;
  GST_INFO_OBJECT (group->owner, "the prepared %s encoder of %s starts", group->codec->name,
      group->input->name.c_str ());
  gst_pad_remove_probe (group->input_tee_pad, group->spare_probe);
  group->spare_probe = 0;
}

void
prepare_encoders (RtcstreamSink *self)
{
  State *st = self->state;
  if (!st->started || st->stopping)
    return;
  CommonSettings settings;
  std::vector<std::pair<InputStream *, GstCaps *>> inputs;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    if (!st->prepare_encoder)
      return;
    settings = st->settings;
    for (auto &in : st->inputs)
      if (in->kind == MediaKind::Video && in->caps && !in->eos && !in->released &&
          !codec_for_encoded_caps (in->caps))
        inputs.emplace_back (in.get (), gst_caps_ref (in->caps));
  }
  for (auto &[in, caps] : inputs) {
    std::vector<const Codec *> codecs = candidate_codecs (settings, *in, caps);
    gst_caps_unref (caps);
    if (codecs.empty ())
      continue;
    const Codec *codec = codecs.front ();
    bool have = false;
    for (auto &g : st->groups)
      have |= g->input == in && g->codec == codec && g->rendition == 0;
    if (have)
      continue;
    std::string error;
    if (!get_group (self, in, codec, error, 0, nullptr, true)) {
      GST_WARNING_OBJECT (self, "could not prepare a %s encoder for %s: %s", codec->name,
          in->name.c_str (), error.c_str ());
      continue;
    }
    GST_INFO_OBJECT (self, "prepared a %s encoder for %s", codec->name, in->name.c_str ());
  }
}

void
drop_prepared_encoders (RtcstreamSink *self, InputStream *input)
{
  State *st = self->state;
  std::vector<EncoderGroup *> spares;
  for (auto &g : st->groups)
    if (g->spare_probe && g->reserved == 0 && (!input || g->input == input))
      spares.push_back (g.get ());
  for (EncoderGroup *g : spares) {
    gst_pad_remove_probe (g->input_tee_pad, g->spare_probe);
    g->spare_probe = 0;
    remove_group (self, g);
  }
}

void
ask_group_keyframe (EncoderGroup *group)
{
  push_keyframe_request (group);
}

// Worker thread.
void
unreserve_groups (RtcstreamSink *self, Consumer &c)
{
  std::vector<EncoderGroup *> groups = std::move (c.reserved);
  c.reserved.clear ();
  for (EncoderGroup *g : groups) {
    g->reserved--;
    release_group_if_unused (self, g);
  }
}

}  // namespace rtcstream::sink
