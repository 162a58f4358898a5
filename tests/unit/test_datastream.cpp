// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The data stream wire format (rtcstream/datastream.h): buffers cut into
// messages and put back together, in order or not, with their timestamps
// and flags; a lost fragment costs its buffer only; bad messages are errors.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "rtcstream/datastream.h"

using namespace rtcstream::datastream;

namespace {

GstBuffer *
pattern (gsize size, guint8 seed)
{
  GstBuffer *b = gst_buffer_new_allocate (nullptr, size, nullptr);
  GstMapInfo map;
  gst_buffer_map (b, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < size; i++)
    map.data[i] = (guint8) (i * 7 + seed);
  gst_buffer_unmap (b, &map);
  return b;
}

Reassembler::Event
feed (Reassembler &r, GBytes *m)
{
  gsize size;
  auto *p = static_cast<const guint8 *> (g_bytes_get_data (m, &size));
  return r.feed (p, size);
}

bool
same_bytes (GstBuffer *a, GstBuffer *b)
{
  if (gst_buffer_get_size (a) != gst_buffer_get_size (b))
    return false;
  GstMapInfo ma, mb;
  gst_buffer_map (a, &ma, GST_MAP_READ);
  gst_buffer_map (b, &mb, GST_MAP_READ);
  bool same = memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return same;
}

void
unref_all (std::vector<GBytes *> &v)
{
  for (GBytes *m : v)
    g_bytes_unref (m);
  v.clear ();
}

}  // namespace

TEST (DataStream, BigBufferIsFragmentedAndRebuiltInAnyOrder)
{
  GstBuffer *in = pattern (300000, 3);
  GST_BUFFER_PTS (in) = 5 * GST_SECOND;
  GST_BUFFER_DTS (in) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (in) = 40 * GST_MSECOND;
  GST_BUFFER_FLAG_SET (in, GST_BUFFER_FLAG_DELTA_UNIT | GST_BUFFER_FLAG_MARKER);
  std::vector<GBytes *> messages = buffer_messages (in, 7);
  ASSERT_EQ (messages.size (), 5u);  // 300000 / 65484, rounded up
  for (GBytes *m : messages)
    EXPECT_LE (g_bytes_get_size (m), kMaxMessage);
  std::shuffle (messages.begin (), messages.end (), std::mt19937 (1));
  Reassembler r;
  GstBuffer *out = nullptr;
  for (size_t i = 0; i < messages.size (); i++) {
    Reassembler::Event ev = feed (r, messages[i]);
    if (i + 1 < messages.size ()) {
      EXPECT_EQ (ev.kind, Reassembler::Event::None);
    } else {
      ASSERT_EQ (ev.kind, Reassembler::Event::Buffer);
      out = ev.buffer;
    }
  }
  ASSERT_TRUE (out);
  EXPECT_TRUE (same_bytes (in, out));
  EXPECT_EQ (GST_BUFFER_PTS (out), 5 * GST_SECOND);
  EXPECT_EQ (GST_BUFFER_DTS (out), GST_CLOCK_TIME_NONE);
  EXPECT_EQ (GST_BUFFER_DURATION (out), 40 * GST_MSECOND);
  EXPECT_TRUE (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_DELTA_UNIT));
  EXPECT_TRUE (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_MARKER));
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  unref_all (messages);
}

TEST (DataStream, EmptyBufferCapsEosAndAcks)
{
  Reassembler r;
  GstBuffer *empty = gst_buffer_new ();
  std::vector<GBytes *> m = buffer_messages (empty, 0);
  ASSERT_EQ (m.size (), 1u);
  Reassembler::Event ev = feed (r, m[0]);
  ASSERT_EQ (ev.kind, Reassembler::Event::Buffer);
  EXPECT_EQ (gst_buffer_get_size (ev.buffer), 0u);
  gst_buffer_unref (ev.buffer);
  unref_all (m);
  gst_buffer_unref (empty);

  GstCaps *caps = gst_caps_from_string ("application/x-klv, parsed=(boolean)true");
  std::string text;
  ASSERT_TRUE (serialize_caps (caps, text));
  GBytes *c = caps_message (text);
  ev = feed (r, c);
  ASSERT_EQ (ev.kind, Reassembler::Event::Caps);
  EXPECT_TRUE (gst_caps_is_equal (ev.caps, caps));
  gst_caps_unref (ev.caps);
  gst_caps_unref (caps);
  g_bytes_unref (c);

  GBytes *none = caps_message ("");
  ev = feed (r, none);
  EXPECT_EQ (ev.kind, Reassembler::Event::Caps);
  EXPECT_EQ (ev.caps, nullptr);
  g_bytes_unref (none);

  GBytes *e = eos_message ();
  EXPECT_EQ (feed (r, e).kind, Reassembler::Event::Eos);
  g_bytes_unref (e);
  GBytes *a = ack_message (G_GUINT64_CONSTANT (1) << 40);
  ev = feed (r, a);
  EXPECT_EQ (ev.kind, Reassembler::Event::Ack);
  EXPECT_EQ (ev.ack, G_GUINT64_CONSTANT (1) << 40);
  g_bytes_unref (a);
}

// On an unreliable channel a fragment may never come: that buffer is given
// up once newer ones are under way, and the others arrive whole.
TEST (DataStream, LostFragmentCostsItsBufferOnly)
{
  Reassembler r;
  std::vector<GstBuffer *> sent;
  int delivered = 0;
  for (guint32 seq = 0; seq < 10; seq++) {
    GstBuffer *b = pattern (100000, seq);
    std::vector<GBytes *> m = buffer_messages (b, seq);
    for (size_t i = 0; i < m.size (); i++) {
      if (seq == 2 && i == 1)
        continue;  // lost
      Reassembler::Event ev = feed (r, m[i]);
      if (ev.kind == Reassembler::Event::Buffer) {
        EXPECT_TRUE (same_bytes (ev.buffer, b));
        gst_buffer_unref (ev.buffer);
        delivered++;
      }
    }
    unref_all (m);
    gst_buffer_unref (b);
  }
  EXPECT_EQ (delivered, 9);
  EXPECT_EQ (r.incomplete (), 0u);  // still among the newest four: not yet given up
  for (guint32 seq = 10; seq < 14; seq++) {
    GstBuffer *b = pattern (100000, seq);
    std::vector<GBytes *> m = buffer_messages (b, seq);
    feed (r, m[0]);  // first fragments only: partials pile up
    unref_all (m);
    gst_buffer_unref (b);
  }
  EXPECT_GE (r.incomplete (), 1u);
}

TEST (DataStream, BadMessagesAreErrors)
{
  Reassembler r;
  const guint8 unknown[] = {'Z', 1, 2};
  EXPECT_EQ (r.feed (unknown, sizeof unknown).kind, Reassembler::Event::Error);
  EXPECT_EQ (r.feed (unknown, 0).kind, Reassembler::Event::Error);
  const guint8 short_buffer[10] = {'B'};
  EXPECT_EQ (r.feed (short_buffer, sizeof short_buffer).kind, Reassembler::Event::Error);
  const guint8 short_ack[4] = {'A'};
  EXPECT_EQ (r.feed (short_ack, sizeof short_ack).kind, Reassembler::Event::Error);

  // A fragment claiming a 2 GiB buffer, and one outside its buffer.
  GstBuffer *b = pattern (100, 0);
  std::vector<GBytes *> m = buffer_messages (b, 0);
  gsize size;
  auto *p = static_cast<const guint8 *> (g_bytes_get_data (m[0], &size));
  std::vector<guint8> huge (p, p + size);
  huge[16 + 4] = 0x80;  // size |= 2^31 (big-endian u64 at 16)
  Reassembler::Event ev = r.feed (huge.data (), huge.size ());
  EXPECT_EQ (ev.kind, Reassembler::Event::Error);
  EXPECT_NE (ev.error.find ("bytes (at most"), std::string::npos) << ev.error;
  std::vector<guint8> outside (p, p + size);
  outside[8 + 7] = 50;  // offset 50 with 100 bytes of data in a 100-byte buffer
  EXPECT_EQ (r.feed (outside.data (), outside.size ()).kind, Reassembler::Event::Error);
  const guint8 bad_caps[] = {'C', '(', '('};
  EXPECT_EQ (r.feed (bad_caps, sizeof bad_caps).kind, Reassembler::Event::Error);
  unref_all (m);
  gst_buffer_unref (b);
}

TEST (DataStream, CapsThatDoNotSurviveSerializationAreRefused)
{
  std::string text;
  GObject *obj = static_cast<GObject *> (g_object_new (G_TYPE_OBJECT, nullptr));
  GstCaps *caps = gst_caps_new_simple ("application/x-object", "obj", G_TYPE_OBJECT, obj,
      nullptr);
  EXPECT_FALSE (serialize_caps (caps, text));
  gst_caps_unref (caps);
  g_object_unref (obj);
  EXPECT_TRUE (serialize_caps (nullptr, text));
  EXPECT_EQ (text, "");
}

// An unordered but reliable channel may interleave the fragments of many
// buffers: none is given up.
TEST (DataStream, ReliableReassemblyKeepsEveryBufferUnderWay)
{
  Reassembler r;
  r.keep_all ();
  std::vector<std::vector<GBytes *>> all;
  for (guint32 seq = 0; seq < 8; seq++) {
    GstBuffer *b = pattern (200000, seq);
    all.push_back (buffer_messages (b, seq));
    gst_buffer_unref (b);
  }
  int delivered = 0;
  for (size_t i = 0; i < 4; i++)          // every buffer's fragment i, buffer by buffer
    for (auto &m : all) {
      Reassembler::Event ev = feed (r, m[i]);
      if (ev.kind == Reassembler::Event::Buffer) {
        delivered++;
        gst_buffer_unref (ev.buffer);
      }
    }
  EXPECT_EQ (delivered, 8);
  EXPECT_EQ (r.incomplete (), 0u);
  for (auto &m : all)
    unref_all (m);
}
