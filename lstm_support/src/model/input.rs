//! What [`Model`](super::Model)'s entry points check before libtorch sees a tensor: a wrong
//! shape or kind would otherwise stop inside libtorch with a panic that names tch's generated
//! wrappers, not the argument. Each error says what was expected, what came and what to do.
use tch::{Kind, Tensor};

use super::config::InputLayout;
use crate::error::{Error, Result};

/// Checks `images` for a model reading `layout`: a defined float tensor of a shape the model
/// takes, with at least one image. Returns the batch size.
pub(super) fn check_images(layout: &InputLayout, images: &Tensor) -> Result<i64> {
    check_images_shape(layout, images)?;
    let size = images.size();
    let batch = size.first().copied().unwrap_or_default();
    if batch == 0 {
        return Err(Error::invalid(
            "images",
            format!("an empty batch (shape {size:?}); give at least one image"),
        ));
    }
    let kind = images.f_kind()?;
    if kind != Kind::Float {
        let conversion = match kind {
            Kind::Uint8 => "images.to_kind(Kind::Float) / 255.0 (pixels in [0, 1])",
            _ => "images.to_kind(Kind::Float)",
        };
        return Err(Error::invalid(
            "images",
            format!("expected a tensor of kind Float (f32, as the weights), got {kind:?}: convert with {conversion}"),
        ));
    }
    Ok(batch)
}

/// Checks that `images` is defined and has a shape the model takes (any batch size, any kind):
/// the check the dataset methods make once, their datasets holding f32 images already.
pub(super) fn check_images_shape(layout: &InputLayout, images: &Tensor) -> Result<()> {
    if !images.defined() {
        return Err(Error::invalid(
            "images",
            "an undefined tensor (Tensor::new()); give a tensor of images",
        ));
    }
    let size = images.size();
    let fits = match *layout {
        // A recurrent model also reads the first rows alone (what it knows after k rows).
        InputLayout::Sequence { steps, features } => {
            matches!(size.as_slice(), [_, rows, f] if (1..=steps as i64).contains(rows) && *f == features as i64)
        }
        // A CNN's images with or without their channel dimension when they have one channel.
        InputLayout::Image {
            channels,
            height,
            width,
        } => {
            let (c, h, w) = (channels as i64, height as i64, width as i64);
            match size.as_slice() {
                [_, hh, ww] => c == 1 && (*hh, *ww) == (h, w),
                [_, cc, hh, ww] => (*cc, *hh, *ww) == (c, h, w),
                _ => false,
            }
        }
    };
    if fits {
        return Ok(());
    }
    Err(Error::invalid(
        "images",
        format!(
            "expected shape {}, got {size:?}{}",
            expected_shape(layout),
            hint(layout, &size)
        ),
    ))
}

/// The shapes a model of `layout` takes, in words.
fn expected_shape(layout: &InputLayout) -> String {
    match *layout {
        InputLayout::Sequence { steps, features } => format!(
            "[batch, {steps}, {features}] (a batch of images of {steps} rows of {features} {}; \
             the first k rows alone: [batch, k, {features}])",
            if features == 1 { "pixel" } else { "pixels" }
        ),
        InputLayout::Image {
            channels: 1,
            height,
            width,
        } => format!(
            "[batch, {height}, {width}] or [batch, 1, {height}, {width}] (a batch of {height}x{width} images)"
        ),
        InputLayout::Image {
            channels,
            height,
            width,
        } => format!(
            "[batch, {channels}, {height}, {width}] (a batch of {height}x{width} images of {channels} channels)"
        ),
    }
}

/// What to do for the common mistakes: one image without its batch dimension, flattened
/// images, a channel dimension a recurrent model does not take.
fn hint(layout: &InputLayout, size: &[i64]) -> String {
    let item: Vec<i64> = match *layout {
        InputLayout::Sequence { steps, features } => vec![steps as i64, features as i64],
        InputLayout::Image {
            channels: 1,
            height,
            width,
        } => vec![height as i64, width as i64],
        InputLayout::Image {
            channels,
            height,
            width,
        } => vec![channels as i64, height as i64, width as i64],
    };
    let pixels: i64 = item.iter().product();
    let item_text = item
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if size == item.as_slice() {
        "; for one image, make a batch of one: image.unsqueeze(0)".to_owned()
    } else if size.len() == 1 && size[0] == pixels {
        format!("; for one flattened image: image.view([1, {item_text}])")
    } else if size.len() == 2 && size[1] == pixels {
        format!("; for flattened images: images.view([-1, {item_text}])")
    } else if matches!(layout, InputLayout::Sequence { .. })
        && size.len() == 4
        && size[1] == 1
        && size[2..] == item[..]
    {
        "; a recurrent model takes no channel dimension: images.squeeze_dim(1)".to_owned()
    } else {
        String::new()
    }
}

/// Checks `labels` for a batch of `batch` images: int64 class indices `[batch]` in
/// `0..num_classes`.
pub(super) fn check_labels(labels: &Tensor, batch: i64, num_classes: usize) -> Result<()> {
    if !labels.defined() {
        return Err(Error::invalid(
            "labels",
            "an undefined tensor (Tensor::new()); give one class index per image",
        ));
    }
    let size = labels.size();
    if size != [batch] {
        let hint = match size.as_slice() {
            [b, c] if *b == batch && *c == num_classes as i64 => {
                "; for one-hot labels: labels.argmax(-1, false)"
            }
            _ => "",
        };
        return Err(Error::invalid(
            "labels",
            format!("expected shape [{batch}] (one class index per image of the batch), got {size:?}{hint}"),
        ));
    }
    let kind = labels.f_kind()?;
    if kind != Kind::Int64 {
        return Err(Error::invalid(
            "labels",
            format!("expected class indices of kind Int64, got {kind:?}: convert with labels.to_kind(Kind::Int64)"),
        ));
    }
    crate::data::check_classes(labels, num_classes)
}
