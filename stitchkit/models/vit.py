"""Vision transformers for small images, as timm defines them.

The authors (models/vit, ``vit_tiny_patch4_32``) use timm's VisionTransformer with 4x4
patches on 32x32 images: a class token, learned position embeddings, pre-norm blocks,
the final norm and the class token as the pooled features. ViT-Tiny has embedding 192,
depth 12 and 3 heads.
"""

from timm.models.vision_transformer import VisionTransformer


def vision_transformer(
    width: int,
    depth: int,
    heads: int,
    patch: int,
    in_channels: int,
    num_classes: int,
    image_size: int,
) -> VisionTransformer:
    """timm's ViT with ``patch`` x ``patch`` patches, embedding ``width`` and ``depth``
    blocks."""
    return VisionTransformer(
        img_size=image_size,
        patch_size=patch,
        in_chans=in_channels,
        num_classes=num_classes,
        embed_dim=width,
        depth=depth,
        num_heads=heads,
    )
