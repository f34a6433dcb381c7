"""The pose-sequence classifier, layer for layer as the users' training project defines it.

The state_dict keys (pre.0.*, lstm.*, pool.w.*, head.*) are the checkpoint format: do not rename.
"""

import torch
import torch.nn as nn


class AttPool(nn.Module):
    """Attention pooling over time: softmax(w(h)) weights the frames, their weighted sum is the window."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.w = nn.Linear(in_dim, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        a = self.w(h).squeeze(-1)                  # (B, T)
        w = torch.softmax(a, dim=1).unsqueeze(-1)  # (B, T, 1)
        return (h * w).sum(1)                      # (B, D)


class LstmAnomalyModel(nn.Module):
    """Conv1d over time -> (Bi)LSTM -> attention pooling -> linear head; returns logits (B, num_out)."""

    def __init__(
        self,
        feat_dim: int,
        hidden_dim: int = 128,
        num_layers: int = 2,
        num_out: int = 1,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        self.pre = nn.Sequential(
            nn.Conv1d(feat_dim, feat_dim, kernel_size=3, padding=1),
            nn.ReLU(),
        )
        self.lstm = nn.LSTM(
            input_size=feat_dim,
            hidden_size=hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            # dropout between stacked layers only; torch warns (harmlessly) when num_layers == 1
            dropout=0.1 if num_layers > 1 else 0.0,
        )
        d = hidden_dim * (2 if bidirectional else 1)
        self.pool = AttPool(d)
        self.head = nn.Linear(d, num_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.pre(x.transpose(1, 2)).transpose(1, 2)
        h, _ = self.lstm(z)
        g = self.pool(h)
        return self.head(g)


class ScoringModel(nn.Module):
    """What the server runs: raw features in, final scores out (the seed's normalise-clip-sigmoid, in the graph)."""

    def __init__(self, model: LstmAnomalyModel, norm_mean: torch.Tensor, norm_std: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("norm_mean", norm_mean.to(torch.float32))
        self.register_buffer("norm_std", norm_std.to(torch.float32))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = torch.clamp((features - self.norm_mean) / self.norm_std, -6.0, 6.0)
        return torch.sigmoid(self.model(x))
