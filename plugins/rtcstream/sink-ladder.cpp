// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsink's encoding ladder. A raw video input watched by several
// viewers in one codec is encoded in renditions (rtcstream/ladder.h): the
// full picture, and smaller ones at lower bitrates, each an encoder group of
// its own, made when a viewer first needs it and removed when its last
// viewer leaves it. Each viewer's RenditionChooser picks the rendition its
// bandwidth estimate allows, so one thin link lowers nobody else's picture
// and viewers on one rendition share its encoder. A viewer alone on an input
// stays on the full rendition, whose encoder then follows its estimate
// (sink-congestion.cpp).
//
// Switching keeps the viewer's payloader (its RTP sequence numbers and
// timestamps run on): its branch queue is relinked from the old rendition's
// tee to the new one's at a keyframe of the new one.
//   1. Worker: a request pad on the new tee, unlinked, with a buffer probe
//      that drops what comes until a keyframe; a keyframe is asked for. A
//      probe on the old tee pad drops everything once the switch is done.
//   2. New rendition's streaming thread, at the keyframe: marks the switch
//      done, then, holding the queue's sink pad stream lock (so that no
//      buffer of the old rendition is inside the queue's chain), unlinks the
//      old tee pad and links the new one. The keyframe then goes through
//      (gst_pad_push rechecks the sticky events after a probe: the new caps
//      and segment go first). Nothing waits but for that stream lock, which
//      a leaky queue's chain holds only briefly.
//   3. Worker: the old tee pad is released, the branch counts in the new
//      group only, and the old group goes if nobody uses it.
// A switch whose keyframe does not come within 4 s is abandoned: the branch
// stays where it was.
#include "sink-private.h"

#include <algorithm>
#include <mutex>

namespace rtcstream::sink {

struct RenditionSwitch {
  std::mutex lock;  // guards done and cancelled
  bool done = false, cancelled = false;
  EncoderGroup *to = nullptr;
  GstPad *queue_sink = nullptr;  // owned
  GstPad *old_pad = nullptr;     // the branch's tee pad (a ref of our own)
  GstPad *new_pad = nullptr;     // owned until the branch adopts it
  gulong old_probe = 0, new_probe = 0;
  gint64 started_us = 0;
  RtcstreamSink *owner = nullptr;
  std::string session_id;
  InputStream *input = nullptr;

  ~RenditionSwitch ()
  {
    if (queue_sink)
      gst_object_unref (queue_sink);
    if (old_pad)
      gst_object_unref (old_pad);
  }
};

namespace {

constexpr gint64 kSwitchTimeoutUs = 4 * G_USEC_PER_SEC;

using SwitchRef = std::shared_ptr<RenditionSwitch>;

void
delete_switch_ref (gpointer data)
{
  delete static_cast<SwitchRef *> (data);
}

void finish_switch (RtcstreamSink *self, const std::string &session_id,
    const std::weak_ptr<RenditionSwitch> &sw);

// The old rendition's streaming thread: nothing more from it once the
// switch is done.
GstPadProbeReturn
drop_after_switch (GstPad *, GstPadProbeInfo *, gpointer data)
{
  RenditionSwitch &sw = **static_cast<SwitchRef *> (data);
  std::lock_guard<std::mutex> lk (sw.lock);
  return sw.done ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

// The new rendition's streaming thread: drops until a keyframe, then
// relinks the branch's queue to this pad and lets the keyframe through.
GstPadProbeReturn
switch_at_keyframe (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  SwitchRef sw = *static_cast<SwitchRef *> (data);
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    return GST_PAD_PROBE_DROP;
  {
    std::lock_guard<std::mutex> lk (sw->lock);
    if (sw->cancelled || sw->done)
      return GST_PAD_PROBE_DROP;
    sw->done = true;
  }
  GST_PAD_STREAM_LOCK (sw->queue_sink);
  gst_pad_unlink (sw->old_pad, sw->queue_sink);
  GstPadLinkReturn lr = gst_pad_link_full (sw->new_pad, sw->queue_sink,
      GST_PAD_LINK_CHECK_NOTHING);
  GST_PAD_STREAM_UNLOCK (sw->queue_sink);
  if (lr != GST_PAD_LINK_OK)
    GST_WARNING_OBJECT (sw->owner, "could not link rendition %zu to session %s's branch: %d",
        sw->to->rendition, sw->session_id.c_str (), lr);
  else
    GST_DEBUG_OBJECT (sw->owner, "session %s switched to rendition %zu of %s at a keyframe",
        sw->session_id.c_str (), sw->to->rendition, sw->input->name.c_str ());
  std::string session = sw->session_id;
  std::weak_ptr<RenditionSwitch> weak = sw;
  on_worker (sw->owner, [session, weak] (RtcstreamSink *self) {
    finish_switch (self, session, weak);
  });
  return GST_PAD_PROBE_REMOVE;
}

// Worker thread: a done switch is adopted by its branch.
void
finish_switch (RtcstreamSink *self, const std::string &session_id,
    const std::weak_ptr<RenditionSwitch> &weak)
{
  SwitchRef sw = weak.lock ();
  if (!sw)
    return;  // settled meanwhile (teardown)
  auto it = self->state->consumers.find (session_id);
  if (it == self->state->consumers.end ())
    return;  // removed meanwhile: its teardown settled the switch
  for (Branch &b : it->second->branches)
    if (b.switching == sw)
      settle_switch (self, b);
}

// Worker thread: the branch starts moving to rendition `rendition` (size:
// its picture and bitrate; null for the full one).
void
start_switch (RtcstreamSink *self, const std::string &session_id, Consumer &c, Branch &b,
    size_t rendition, const Rendition *size)
{
  std::string error;
  EncoderGroup *to = get_group (self, b.group->input, b.group->codec, error, rendition, size);
  if (!to) {
    warn_consumer (self, c.session->peer_id (), "cannot encode rendition " +
        std::to_string (rendition) + " of " + b.group->input->name + ": " + error);
    return;
  }
  to->consumers++;  // counted in both groups until the switch settles
  auto sw = std::make_shared<RenditionSwitch> ();
  sw->to = to;
  sw->owner = self;
  sw->session_id = session_id;
  sw->input = b.group->input;
  sw->started_us = g_get_monotonic_time ();
  sw->queue_sink = gst_element_get_static_pad (b.queue, "sink");
  sw->old_pad = GST_PAD (gst_object_ref (b.group_tee_pad));
  sw->new_pad = gst_element_request_pad_simple (to->tee, "src_%u");
  b.switching = sw;
  sw->old_probe = gst_pad_add_probe (sw->old_pad, GST_PAD_PROBE_TYPE_BUFFER, drop_after_switch,
      new SwitchRef (sw), delete_switch_ref);
  sw->new_probe = gst_pad_add_probe (sw->new_pad, GST_PAD_PROBE_TYPE_BUFFER, switch_at_keyframe,
      new SwitchRef (sw), delete_switch_ref);
  GST_INFO_OBJECT (self, "consumer %s: %s from rendition %zu to %zu", c.session->peer_id ().c_str (),
      b.group->input->name.c_str (), b.group->rendition, rendition);
  ask_group_keyframe (to);
  use_group (to);  // a prepared encoder starts with that keyframe
}

}  // namespace

// Worker thread.
void
settle_switch (RtcstreamSink *self, Branch &b)
{
  SwitchRef sw = std::move (b.switching);
  if (!sw)
    return;
  bool done;
  {
    std::lock_guard<std::mutex> lk (sw->lock);
    done = sw->done;
    sw->cancelled = !done;
  }
  EncoderGroup *drop = done ? b.group : sw->to;
  GstPad *drop_pad = done ? b.group_tee_pad : sw->new_pad;
  gst_pad_remove_probe (sw->old_pad, sw->old_probe);
  if (done) {
    std::lock_guard<std::mutex> lk (self->state->lock);  // stats read the branch's group
    b.group = sw->to;
    b.group_tee_pad = sw->new_pad;
    b.switches++;
  } else {
    gst_pad_remove_probe (sw->new_pad, sw->new_probe);
    GST_INFO_OBJECT (self, "no keyframe of rendition %zu of %s came: the switch is abandoned",
        sw->to->rendition, sw->input->name.c_str ());
  }
  gst_element_release_request_pad (drop->tee, drop_pad);
  gst_object_unref (drop_pad);
  drop->consumers--;
  release_group_if_unused (self, drop);
}

std::vector<Rendition>
input_ladder (RtcstreamSink *self, InputStream *in)
{
  State *st = self->state;
  std::lock_guard<std::mutex> lk (st->lock);
  gint width = 0, height = 0;
  if (in->caps && !gst_caps_is_empty (in->caps)) {
    const GstStructure *s = gst_caps_get_structure (in->caps, 0);
    gst_structure_get_int (s, "width", &width);
    gst_structure_get_int (s, "height", &height);
  }
  if (width <= 0 || height <= 0)
    return {};
  return make_ladder (st->ladder, width, height, st->bitrates.min_bps, st->bitrates.max_bps);
}

int
viewers_of (RtcstreamSink *self, InputStream *in, const Codec *codec)
{
  int n = 0;
  for (auto &kv : self->state->consumers) {
    if (!kv.second->linked)
      continue;
    for (const Branch &b : kv.second->branches)
      if (b.group->input == in && b.group->codec == codec) {
        n++;
        break;
      }
  }
  return n;
}

void
update_renditions (RtcstreamSink *self, const std::string &session_id, Consumer &c,
    guint share_bps, bool congested, guint capacity_share_bps, gint64 now)
{
  bool adapting;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    adapting = self->state->bitrates.congestion_control;
  }
  for (Branch &b : c.branches) {
    EncoderGroup *g = b.group;
    if (g->codec->kind != MediaKind::Video || !g->encodes)
      continue;
    if (b.switching) {
      if (now - b.switching->started_us > kSwitchTimeoutUs)
        settle_switch (self, b);
      continue;
    }
    std::vector<Rendition> ladder = input_ladder (self, g->input);
    size_t want = 0;
    if (!adapting || ladder.size () < 2 || viewers_of (self, g->input, g->codec) < 2) {
      b.chooser.reset ();
    } else {
      if (!b.chooser)
        b.chooser = std::make_unique<RenditionChooser> (g->rendition);
      std::vector<uint32_t> bps;
      for (const Rendition &r : ladder)
        bps.push_back (r.bps);
      want = b.chooser->update (bps, share_bps, congested, capacity_share_bps, now);
    }
    if (want != g->rendition)
      start_switch (self, session_id, c, b, want, want ? &ladder[want] : nullptr);
  }
}

void
add_rendition_stats (GstStructure *s, const Consumer &c)
{
  for (const Branch &b : c.branches) {
    if (b.group->codec->kind != MediaKind::Video || !b.group->encodes)
      continue;
    gst_structure_set (s, "rendition", G_TYPE_INT, (gint) b.group->rendition,
        "rendition-switches", G_TYPE_UINT, b.switches, nullptr);
    if (b.group->rendition)
      gst_structure_set (s, "rendition-width", G_TYPE_INT, b.group->size.width,
          "rendition-height", G_TYPE_INT, b.group->size.height, nullptr);
    // An encoder that follows this consumer alone: the size and frame rate
    // its scaler gives it.
    if (int w = b.group->picture_width.load ())
      gst_structure_set (s, "picture-width", G_TYPE_INT, w, "picture-height", G_TYPE_INT,
          b.group->picture_height.load (), "picture-framerate", G_TYPE_DOUBLE,
          b.group->picture_fps.load (), nullptr);
    return;
  }
  gst_structure_set (s, "rendition", G_TYPE_INT, -1, "rendition-switches", G_TYPE_UINT, 0u,
      nullptr);
}

}  // namespace rtcstream::sink
