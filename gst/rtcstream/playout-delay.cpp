// SPDX-License-Identifier: LGPL-2.1-or-later
#include "playout-delay.h"

#include <algorithm>

GST_DEBUG_CATEGORY_STATIC (playout_delay_debug);
#define GST_CAT_DEFAULT playout_delay_debug

namespace rtcstream {

namespace {

guint
to_units (guint ms)
{
  return (std::min (ms, kPlayoutDelayMaxMs) + 5) / 10;
}

}  // namespace

void
write_playout_delay (guint8 *data, guint min_ms, guint max_ms)
{
  const guint min = to_units (min_ms), max = to_units (max_ms);
  data[0] = static_cast<guint8> (min >> 4);
  data[1] = static_cast<guint8> (((min & 0xf) << 4) | (max >> 8));
  data[2] = static_cast<guint8> (max & 0xff);
}

bool
read_playout_delay (const guint8 *data, gsize size, guint *min_ms, guint *max_ms)
{
  if (size < kPlayoutDelaySize)
    return false;
  *min_ms = ((static_cast<guint> (data[0]) << 4) | (data[1] >> 4)) * 10;
  *max_ms = (((static_cast<guint> (data[1]) & 0xf) << 8) | data[2]) * 10;
  return true;
}

}  // namespace rtcstream

using namespace rtcstream;

struct _RtcstreamPlayoutDelayExtension {
  GstRTPHeaderExtension parent;
  // Guarded by the object lock: written by the application (properties) and
  // by a depayloader's streaming thread (read), read by a payloader's.
  guint min_ms;
  guint max_ms;
};

G_DEFINE_TYPE (RtcstreamPlayoutDelayExtension, rtcstream_playout_delay_extension,
    GST_TYPE_RTP_HEADER_EXTENSION)

enum { PROP_0, PROP_MIN_DELAY, PROP_MAX_DELAY };

namespace {

GstRTPHeaderExtensionFlags
supported_flags (GstRTPHeaderExtension *)
{
  return static_cast<GstRTPHeaderExtensionFlags> (GST_RTP_HEADER_EXTENSION_ONE_BYTE |
      GST_RTP_HEADER_EXTENSION_TWO_BYTE);
}

gsize
max_size (GstRTPHeaderExtension *, const GstBuffer *)
{
  return kPlayoutDelaySize;
}

// A payloader's streaming thread: on every packet.
gssize
write (GstRTPHeaderExtension *ext, const GstBuffer *, GstRTPHeaderExtensionFlags, GstBuffer *,
    guint8 *data, gsize size)
{
  auto *self = RTCSTREAM_PLAYOUT_DELAY_EXTENSION (ext);
  g_return_val_if_fail (size >= kPlayoutDelaySize, -1);
  GST_OBJECT_LOCK (self);
  const guint min = self->min_ms, max = self->max_ms;
  GST_OBJECT_UNLOCK (self);
  write_playout_delay (data, min, max);
  GST_LOG_OBJECT (self, "wrote min %u ms, max %u ms", min, max);
  return kPlayoutDelaySize;
}

// A depayloader's streaming thread: keeps what the sender asks for.
gboolean
read (GstRTPHeaderExtension *ext, GstRTPHeaderExtensionFlags, const guint8 *data, gsize size,
    GstBuffer *)
{
  auto *self = RTCSTREAM_PLAYOUT_DELAY_EXTENSION (ext);
  guint min = 0, max = 0;
  if (!read_playout_delay (data, size, &min, &max)) {
    GST_WARNING_OBJECT (self, "a playout-delay extension of %" G_GSIZE_FORMAT
        " bytes (it has 3): ignored", size);
    return TRUE;  // a malformed extension does not drop the packet
  }
  GST_OBJECT_LOCK (self);
  const bool changed = self->min_ms != min || self->max_ms != max;
  self->min_ms = min;
  self->max_ms = max;
  GST_OBJECT_UNLOCK (self);
  if (changed) {
    GST_DEBUG_OBJECT (self, "the sender asks for min %u ms, max %u ms", min, max);
    g_object_notify (G_OBJECT (self), "min-delay");
    g_object_notify (G_OBJECT (self), "max-delay");
  }
  return TRUE;
}

}  // namespace

static void
rtcstream_playout_delay_extension_set_property (GObject *object, guint prop_id,
    const GValue *value, GParamSpec *pspec)
{
  auto *self = RTCSTREAM_PLAYOUT_DELAY_EXTENSION (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MIN_DELAY:
      self->min_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_DELAY:
      self->max_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
rtcstream_playout_delay_extension_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_PLAYOUT_DELAY_EXTENSION (object);
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MIN_DELAY:
      g_value_set_uint (value, self->min_ms);
      break;
    case PROP_MAX_DELAY:
      g_value_set_uint (value, self->max_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
rtcstream_playout_delay_extension_class_init (RtcstreamPlayoutDelayExtensionClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstRTPHeaderExtensionClass *ext_class = GST_RTP_HEADER_EXTENSION_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (playout_delay_debug, "rtcstream-playout-delay", 0,
      "rtcstream playout-delay RTP header extension");
  gobject_class->set_property = rtcstream_playout_delay_extension_set_property;
  gobject_class->get_property = rtcstream_playout_delay_extension_get_property;
  // Values in ms; the wire carries 10 ms units, so 15 goes out as 20.
  g_object_class_install_property (gobject_class, PROP_MIN_DELAY,
      g_param_spec_uint ("min-delay", "Minimum playout delay",
          "The least the receiver should delay rendering, in ms (10 ms steps). "
          "A depayloader sets it to what the sender last asked for",
          0, kPlayoutDelayMaxMs, 0,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_MAX_DELAY,
      g_param_spec_uint ("max-delay", "Maximum playout delay",
          "The most the receiver should delay rendering, in ms (10 ms steps); 0 with "
          "min-delay 0: render as soon as decoded. A depayloader sets it to what the "
          "sender last asked for",
          0, kPlayoutDelayMaxMs, 0,
          (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));

  ext_class->get_supported_flags = supported_flags;
  ext_class->get_max_size = max_size;
  ext_class->write = write;
  ext_class->read = read;

  gst_element_class_set_static_metadata (element_class, "RTP playout-delay header extension",
      GST_RTP_HDREXT_ELEMENT_CLASS,
      "Tells a WebRTC receiver how long to delay rendering (Chromium's playout-delay "
      "extension): interactive streams ask for 0",
      "rtcstream developers");
  gst_rtp_header_extension_class_set_uri (ext_class, kPlayoutDelayExtensionUri);
}

static void
rtcstream_playout_delay_extension_init (RtcstreamPlayoutDelayExtension *self)
{
  self->min_ms = 0;
  self->max_ms = 0;
}

gboolean
rtcstream_playout_delay_extension_register (GstPlugin *plugin)
{
  return gst_element_register (plugin, "rtcstreamplayoutdelay", GST_RANK_MARGINAL,
      RTCSTREAM_TYPE_PLAYOUT_DELAY_EXTENSION);
}
